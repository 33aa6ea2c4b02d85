package comet

import (
	"fmt"
	"strings"
	"sync"
)

// Subject matching.
//
// Pushlet matches a subscription against a published subject with plain
// String.startsWith, so "/a" receives "/ab" as well as "/a/b". cometplay
// matches on segment boundaries instead: a subscription S receives subject
// P when P == S, or P starts with S followed by "/" (so "/a" receives "/a"
// and "/a/b", never "/ab"). A subscription ending in "/" receives only what
// lies below it ("/a/" receives "/a/b" but not "/a"), and "/" receives
// every subject that starts with "/". A subscription may list several
// subjects separated by commas; it matches if any of them does.
//
// The index is a trie of subject segments. Publishing walks the trie along
// the published subject and collects the subscriptions stored at each node
// it visits, so its cost is the subject's depth plus the number of matching
// subscriptions, whatever the number of sessions.

// Subject limits.
const (
	// MaxSubjectLen bounds a subject (each part of a comma list).
	MaxSubjectLen = 256
	// MaxSubjectSegments bounds the depth of a subject.
	MaxSubjectSegments = 16
	// MaxSubjectParts bounds the subjects of one comma list: each part is
	// stored in the index apart (a trie path of its own), so a list of
	// many short parts would cost far more than its bytes. Pushlet's
	// clients and ours send one subject per subscription.
	MaxSubjectParts = 8
)

// errTooManyParts: a comma list of more than MaxSubjectParts subjects.
var errTooManyParts = fmt.Errorf("too many subjects in one list (at most %d)", MaxSubjectParts)

// subscription is one p_sid of a session.
type subscription struct {
	sess    *Session
	goneAt  uint64 // once unsubscribed: the session's seq then (no event after it came through it)
	sid     string
	subject string // as given, possibly a comma list
	label   string
	// where it is stored in the trie (one place per comma-separated part),
	// with its index in that node's slice for O(1) removal. The first place
	// is inline: most subscriptions name one subject.
	place  subPlace
	more   *[]subPlace // further places (rare: comma lists)
	placed int32       // number of places in use
	id     uint32      // within its session: what its held events name (history.Entry.Sub)
	segs   int32       // trie segments charged to the session's client budget (0: subscribed from Go)
}

// placeAt returns the i-th place of sub.
func (sub *subscription) placeAt(i int) *subPlace {
	if i == 0 {
		return &sub.place
	}
	return &(*sub.more)[i-1]
}

type subPlace struct {
	n            *subjectNode
	idx          int32 // in n.exact or n.below
	childrenOnly bool
}

type subjectNode struct {
	parent   *subjectNode
	seg      string
	children map[string]*subjectNode
	exact    []*subscription // subscribed to this node's subject (and below)
	below    []*subscription // subscribed to "subject/" (below only)
}

// subjectIndex is the trie. Publishers take the read lock.
type subjectIndex struct {
	mu   sync.RWMutex
	root subjectNode
}

// validSubject reports whether s is a usable subject (one part of a list).
func validSubject(s string) bool {
	if s == "" || len(s) > MaxSubjectLen || strings.Count(s, "/") > MaxSubjectSegments {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == ',' {
			return false
		}
	}
	return true
}

// splitSubjects splits a comma list and validates each part; the error is
// ErrBadSubject or errTooManyParts.
func splitSubjects(list string) ([]string, error) {
	if list == "" || len(list) > MaxSubjectParts*MaxSubjectLen {
		return nil, ErrBadSubject
	}
	if strings.Count(list, ",") >= MaxSubjectParts {
		return nil, errTooManyParts
	}
	parts := strings.Split(list, ",")
	for _, p := range parts {
		if !validSubject(p) {
			return nil, ErrBadSubject
		}
	}
	return parts, nil
}

// subjectSegments returns how many trie nodes storing parts may create:
// one per segment of each part.
func subjectSegments(parts []string) int {
	n := 0
	for _, p := range parts {
		n += strings.Count(p, "/") + 1
	}
	return n
}

// add stores sub under each of its subjects. parts come from splitSubjects.
func (ix *subjectIndex) add(sub *subscription, parts []string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, p := range parts {
		childrenOnly := len(p) > 1 && strings.HasSuffix(p, "/") || p == "/"
		if childrenOnly {
			p = p[:len(p)-1]
		}
		n := &ix.root
		for seg := range strings.SplitSeq(p, "/") {
			c := n.children[seg]
			if c == nil {
				if n.children == nil {
					n.children = make(map[string]*subjectNode)
				}
				// A copy, as the node's name and the map's key: seg is
				// part of a client's request, which it must not keep alive.
				c = &subjectNode{parent: n, seg: strings.Clone(seg)}
				n.children[c.seg] = c
			}
			n = c
		}
		pl := subPlace{n: n, childrenOnly: childrenOnly}
		dup := false
		for i := 0; i < int(sub.placed); i++ {
			if q := sub.placeAt(i); q.n == n && q.childrenOnly == childrenOnly {
				dup = true // "/a,/a": one place is enough
			}
		}
		if dup {
			continue
		}
		if childrenOnly {
			pl.idx = int32(len(n.below))
			n.below = append(n.below, sub)
		} else {
			pl.idx = int32(len(n.exact))
			n.exact = append(n.exact, sub)
		}
		if sub.placed == 0 {
			sub.place = pl
		} else {
			if sub.more == nil {
				sub.more = new([]subPlace)
			}
			*sub.more = append(*sub.more, pl)
		}
		sub.placed++
	}
}

// remove deletes sub from the trie and prunes empty nodes.
func (ix *subjectIndex) remove(sub *subscription) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := 0; i < int(sub.placed); i++ {
		pl := *sub.placeAt(i)
		list := &pl.n.exact
		if pl.childrenOnly {
			list = &pl.n.below
		}
		s := *list
		last := len(s) - 1
		if int(pl.idx) <= last && s[pl.idx] == sub {
			moved := s[last]
			s[pl.idx] = moved
			s[last] = nil
			*list = s[:last]
			if moved != sub {
				moved.fixPlace(pl.n, pl.childrenOnly, pl.idx)
			}
		}
		// Prune nodes left with nothing.
		for n := pl.n; n != &ix.root && len(n.exact) == 0 && len(n.below) == 0 && len(n.children) == 0; {
			p := n.parent
			delete(p.children, n.seg)
			n = p
		}
	}
	sub.place, sub.more, sub.placed = subPlace{}, nil, 0
}

// fixPlace records sub's new index in node n after a swap-removal.
func (sub *subscription) fixPlace(n *subjectNode, childrenOnly bool, idx int32) {
	for i := 0; i < int(sub.placed); i++ {
		if pl := sub.placeAt(i); pl.n == n && pl.childrenOnly == childrenOnly {
			pl.idx = idx
			return
		}
	}
}

// matching calls take with the subscriptions that match subject, node by
// node from the shallowest: each node's exact list, and the below list of
// every node above the subject's own. The caller holds ix.mu.
func (ix *subjectIndex) matching(subject string, take func([]*subscription)) {
	n, rest := &ix.root, subject
	for {
		seg, more := rest, false
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest, more = rest[:i], rest[i+1:], true
		}
		if n = n.children[seg]; n == nil {
			return
		}
		take(n.exact)
		if !more {
			return
		}
		take(n.below)
	}
}

// estimate returns how many subscriptions collect would find for subject
// before it drops a session's duplicates: an upper bound on the recipients,
// in time proportional to the subject's depth.
func (ix *subjectIndex) estimate(subject string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	total := 0
	ix.matching(subject, func(subs []*subscription) { total += len(subs) })
	return total
}

// collect appends to dst every subscription matching subject, at most one per
// session (the first found, from the shallowest node: Pushlet delivers a
// multicast once per session). seen is scratch space for deduplication.
func (ix *subjectIndex) collect(dst []*subscription, subject string, seen map[*Session]struct{}) []*subscription {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	start := len(dst)
	dup := false // some matched session holds several subscriptions
	ix.matching(subject, func(subs []*subscription) {
		for _, sub := range subs {
			// A session with several subscriptions, or one subscription
			// listing several subjects, may match at two nodes.
			if sub.placed > 1 || sub.sess.nsubs.Load() > 1 {
				dup = true
			}
		}
		dst = append(dst, subs...)
	})
	if !dup {
		return dst
	}
	// A session subscribed twice (two labels, two depths, a list) gets the
	// event once.
	clear(seen)
	out := dst[:start]
	for _, s := range dst[start:] {
		if _, dup := seen[s.sess]; dup {
			continue
		}
		seen[s.sess] = struct{}{}
		out = append(out, s)
	}
	return out
}
