package httpcodec

import (
	"errors"
	"fmt"
	"strings"
)

// got is an owned snapshot of a parsed Request, comparable with ==.
type got struct {
	N         int // bytes the request occupied
	Method    string
	Target    string
	Path      string
	RawPath   string
	RawQuery  string
	HasQuery  bool
	Proto     string
	Headers   string // "Name: value" lines joined by "\n"
	Host      string
	HasHost   bool
	CL        int64
	Chunked   bool
	Body      string
	HasBody   bool
	KeepAlive bool
	Expect100 bool
}

func snap(r *Request, n int) got {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, string(h.Name)+": "+string(h.Value))
	}
	return got{
		N: n, Method: string(r.Method), Target: string(r.Target), Path: string(r.Path),
		RawPath: string(r.RawPath), RawQuery: string(r.RawQuery), HasQuery: r.RawQuery != nil,
		Proto:   fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor),
		Headers: strings.Join(hs, "\n"), Host: string(r.Host), HasHost: r.Host != nil,
		CL: r.ContentLength, Chunked: r.Chunked, Body: string(r.Body), HasBody: r.Body != nil,
		KeepAlive: r.KeepAlive, Expect100: r.Expect100,
	}
}

// outcome is everything a feeding schedule produced: the complete requests in
// order, then either an error or the count of unconsumed trailing bytes.
type outcome struct {
	Reqs []got
	Err  error // the sentinel, not the *ParseError
	// Where the error was found, relative to the start of its request.
	ErrState  string
	ErrOffset int
	Rest      int // bytes left unconsumed at the end (an incomplete request)
}

func (o outcome) String() string {
	var b strings.Builder
	for i, r := range o.Reqs {
		fmt.Fprintf(&b, "req %d: %+v\n", i, r)
	}
	if o.Err != nil {
		fmt.Fprintf(&b, "err: %v (state %s, offset %d)\n", o.Err, o.ErrState, o.ErrOffset)
	}
	fmt.Fprintf(&b, "rest: %d", o.Rest)
	return b.String()
}

func (o outcome) equal(x outcome) bool {
	if len(o.Reqs) != len(x.Reqs) || o.Err != x.Err || o.ErrState != x.ErrState ||
		o.ErrOffset != x.ErrOffset || o.Rest != x.Rest {
		return false
	}
	for i := range o.Reqs {
		if o.Reqs[i] != x.Reqs[i] {
			return false
		}
	}
	return true
}

// feed delivers in to a fresh Parser in steps: after step k the buffer
// holds in[:arrive[k]] (arrive is increasing and ends at len(in)). Like
// gnet, every call gets a fresh copy of the unconsumed bytes at a new
// address, and the previous copy is scribbled over, so a parser that kept a
// slice instead of an offset reads garbage.
func feed(l Limits, in []byte, arrive []int) outcome {
	p := NewParser(l)
	var o outcome
	start := 0
	var old []byte
	for _, avail := range arrive {
		for {
			buf := append([]byte(nil), in[start:avail]...)
			for i := range old {
				old[i] = 'X'
			}
			old = buf
			n, r, err := p.Parse(buf)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					panic("Parse returned a non-*ParseError: " + err.Error())
				}
				o.Err, o.ErrState, o.ErrOffset = pe.Err, pe.State, pe.Offset
				return o
			}
			if r == nil {
				break
			}
			o.Reqs = append(o.Reqs, snap(r, n))
			start += n
		}
	}
	o.Rest = len(in) - start
	return o
}

func whole(in []byte) []int { return []int{len(in)} }

func splitAt(in []byte, k int) []int {
	if k <= 0 || k >= len(in) {
		return whole(in)
	}
	return []int{k, len(in)}
}

func byteAtATime(in []byte) []int {
	a := make([]int, len(in))
	for i := range a {
		a[i] = i + 1
	}
	if len(a) == 0 {
		return whole(in)
	}
	return a
}

// agree checks that whole, every split point and byte-at-a-time feeding
// produce the same outcome, and returns it.
func agree(l Limits, in []byte) (outcome, error) {
	want := feed(l, in, whole(in))
	for k := 1; k < len(in); k++ {
		if o := feed(l, in, splitAt(in, k)); !o.equal(want) {
			return want, fmt.Errorf("split at %d:\n%v\nwhole:\n%v", k, o, want)
		}
	}
	if o := feed(l, in, byteAtATime(in)); !o.equal(want) {
		return want, fmt.Errorf("byte at a time:\n%v\nwhole:\n%v", o, want)
	}
	return want, nil
}
