package comet

import (
	"errors"
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
)

// asyncClaim answers each publish when the test says so.
type asyncClaim struct {
	got chan func(error)
}

func (a *asyncClaim) HandlePublish(Publish) error {
	panic("the hub called HandlePublish of an async claim")
}

func (a *asyncClaim) HandlePublishAsync(p Publish, done func(error)) { a.got <- done }

// A claim that answers later: the publish waits for its answer (ack, or
// nack with the error), and the session's other requests do not.
func TestAsyncClaim(t *testing.T) {
	th := newTestHub(t, Config{})
	ac := &asyncClaim{got: make(chan func(error), 1)}
	if err := th.hub.Claim("/later", ac); err != nil {
		t.Fatal(err)
	}
	id := th.join(FormatJSON)
	for _, answer := range []error{nil, errors.New("room moving")} {
		type result struct {
			evs []wireEvent
		}
		res := make(chan result, 1)
		go func() {
			res <- result{th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/later/x", "k", "v"))}
		}()
		done := testkit.Recv(t, ac.got, "the claim's call")
		// Meanwhile the session is served.
		if evs := th.do(FormatJSON, testkit.Query("p_event", "hb", "p_id", id)); evs[0].name() != "hb-ack" {
			t.Fatalf("hb while a publish waits: %v", evs)
		}
		select {
		case r := <-res:
			t.Fatalf("answered before the claim did: %v", r.evs)
		default:
		}
		go done(answer)
		r := testkit.Recv(t, res, "the publish's answer")
		switch {
		case answer == nil && r.evs[0].name() != "publish-ack":
			t.Fatalf("answer %v, want publish-ack", r.evs)
		case answer != nil && (r.evs[0].name() != "nack" || r.evs[0]["p_reason"] != answer.Error()):
			t.Fatalf("answer %v, want nack %q", r.evs, answer)
		}
	}
}

// syncClaim answers during the call, as a node does for its own rooms.
type syncClaim struct{ err error }

func (c syncClaim) HandlePublish(Publish) error {
	panic("the hub called HandlePublish of an async claim")
}

func (c syncClaim) HandlePublishAsync(_ Publish, done func(error)) { done(c.err) }

// An async claim that answers during the call is answered at once, with
// its error when it has one.
func TestAsyncClaimAnsweringAtOnce(t *testing.T) {
	th := newTestHub(t, Config{})
	if err := th.hub.Claim("/ok", syncClaim{}); err != nil {
		t.Fatal(err)
	}
	if err := th.hub.Claim("/busy", syncClaim{errors.New("room busy")}); err != nil {
		t.Fatal(err)
	}
	id := th.join(FormatJSON)
	if evs := th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/ok/x")); evs[0].name() != "publish-ack" {
		t.Fatalf("answer %v, want publish-ack", evs)
	}
	if evs := th.do(FormatJSON, testkit.Query("p_event", "publish", "p_id", id, "p_subject", "/busy/x")); evs[0].name() != "nack" || evs[0]["p_reason"] != "room busy" {
		t.Fatalf("answer %v, want nack room busy", evs)
	}
}
