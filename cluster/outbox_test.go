package cluster

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/rooms"
)

// What waits for NATS is bounded: past maxQueuedBytes a message is dropped
// and counted, and the queue takes messages again once sent.
func TestOutboxIsBounded(t *testing.T) {
	o := &outbox{wake: make(chan struct{}, 1), done: make(chan struct{})} // no sender: nothing leaves
	big := make([]byte, 1<<20)
	for range maxQueuedBytes >> 20 {
		o.push(msg{subj: "s", data: big})
	}
	if o.droppedCount() != 0 || o.bytes != maxQueuedBytes {
		t.Fatalf("dropped %d, queued %d bytes; want 0 dropped, %d queued", o.droppedCount(), o.bytes, maxQueuedBytes)
	}
	o.push(msg{subj: "s", data: []byte{1}})
	if o.droppedCount() != 1 {
		t.Fatalf("dropped %d past the bound, want 1", o.droppedCount())
	}
}

// recorder is a games.Transport that writes down what it is asked.
type recorder struct{ calls []string }

func (r *recorder) Send(id string, ev rooms.Event) {
	r.calls = append(r.calls, fmt.Sprintf("send %s %s %s %s", id, ev.Topic, ev.Type, ev.Data))
}
func (r *recorder) SendAll(ids []string, ev rooms.Event) {
	r.calls = append(r.calls, fmt.Sprintf("sendall %v %s %s %s", ids, ev.Topic, ev.Type, ev.Data))
}
func (r *recorder) Publish(topic string, ev rooms.Event) {
	r.calls = append(r.calls, fmt.Sprintf("publish %s %s %s", topic, ev.Type, ev.Data))
}
func (r *recorder) Subscribe(id, topic string)   { r.calls = append(r.calls, "sub "+id+" "+topic) }
func (r *recorder) Unsubscribe(id, topic string) { r.calls = append(r.calls, "unsub "+id+" "+topic) }

// TestCoalesceJoinsMessagesToANodeInOrder: the outbox joins the games
// node's ops for one node, and a relayed response's bytes, into one NATS
// message each where nothing else for that node comes between them; each
// node's sessions get the same ops in the same order as without joining.
func TestCoalesceJoinsMessagesToANodeInOrder(t *testing.T) {
	o := &outbox{wake: make(chan struct{}, 1), done: make(chan struct{})} // no sender: the test takes the queue
	from := &Node{opts: Options{Node: "n1"}, out: o}
	rt := &remoteTransport{n: from, local: &recorder{}}
	ev := func(typ string) rooms.Event {
		return rooms.Event{Topic: "/room/r", Type: typ, Data: []byte(`{"k":"` + typ + `"}`)}
	}
	rt.Send("n2aaaa", ev("ack"))               // 0: ops n2 ─┐
	rt.Send("n3bbbb", ev("move"))              // 1: ops n3   │
	rt.SendAll([]string{"n2aaaa"}, ev("move")) // 2: ops n2 ─┘ joined with 0
	rt.Subscribe("n2aaaa", "/room/s")          // 3: ops n2 ─┘ joined with 0
	o.push(msg{subj: "cp.n.n2.rel.5", data: []byte("dHTTP/1.1 200 OK\r\n"), join: joinRelay})
	o.push(msg{subj: "cp.n.n2.rel.5", data: []byte("d\r\nbody"), join: joinRelay}) // joined
	o.push(msg{subj: "cp.n.n2.rel.5", data: []byte{kindEnd}, join: joinRelay})     // joined
	rt.Send("n2aaaa", ev("turn"))                                                  // ops n2: a relay came between
	o.push(msg{subj: "cp.n.n2.in", reply: "cp.n.n1.crep.1", data: []byte("c")})
	rt.Send("n2aaaa", ev("x"))                     // after a request: not joined with it, nor across it
	o.push(msg{subj: "cp.pub", data: []byte("p")}) // every node: nothing joins across it
	rt.Send("n2aaaa", ev("y"))
	rt.Send("n3bbbb", ev("turn")) // joined with 1? no: cp.pub came between
	rt.Send("n2aaaa", ev("z"))    // joined with y

	queued := slices.Clone(o.q)
	shared := slices.Clone(queued[0].data)
	got := coalesce(o.q)
	var subjects []string
	for _, m := range got {
		subjects = append(subjects, m.subj)
	}
	want := []string{"cp.n.n2.ops", "cp.n.n3.ops", "cp.n.n2.rel.5", "cp.n.n2.ops", "cp.n.n2.in", "cp.n.n2.ops", "cp.pub", "cp.n.n2.ops", "cp.n.n3.ops"}
	if !slices.Equal(subjects, want) {
		t.Fatalf("messages after joining:\n%q\nwant\n%q", subjects, want)
	}
	if !bytes.Equal(queued[0].data, shared) {
		t.Errorf("joining changed the first message's own bytes (they may be shared, as a Publish's are)")
	}
	if got, want := string(got[2].data), "eHTTP/1.1 200 OK\r\n\r\nbody"; got != want {
		t.Errorf("the relayed response joined: %q, want %q (its bytes in order, marked the last)", got, want)
	}
	// Each node applies the same ops, in the same order, as from the
	// messages one by one.
	apply := func(ms []msg, node string) []string {
		to := &Node{opts: Options{Node: node}}
		rec := &recorder{}
		to.games.local = rec
		for _, m := range ms {
			if m.subj == "cp.n."+node+".ops" {
				to.onOps(m.data)
			}
		}
		return rec.calls
	}
	for _, node := range []string{"n2", "n3"} {
		if a, b := apply(got, node), apply(queued, node); !slices.Equal(a, b) || len(b) == 0 {
			t.Errorf("%s applied, joined:\n%q\none by one:\n%q", node, a, b)
		}
	}
	if n := len(queued) - len(got); n != 5 {
		t.Errorf("%d messages joined, want 5", n)
	}
}

// TestCoalesceKeepsMessagesUnderTheBound: messages are not joined past
// maxJoined.
func TestCoalesceKeepsMessagesUnderTheBound(t *testing.T) {
	big := bytes.Repeat([]byte{'s'}, maxJoined/2)
	batch := []msg{
		{subj: "cp.n.n2.ops", data: big, join: joinOps},
		{subj: "cp.n.n2.ops", data: big, join: joinOps},
		{subj: "cp.n.n2.ops", data: []byte("s1"), join: joinOps},
	}
	got := coalesce(batch)
	if len(got) != 2 || len(got[0].data) != len(big) || len(got[1].data) > maxJoined {
		t.Errorf("joined into %d messages of %d and %d bytes; want the first alone, the next two together", len(got), len(got[0].data), len(got[len(got)-1].data))
	}
}

// TestUnansweredAppendsAreSentAgainLessAndLessOften: a turn log append
// without an answer is sent again after appendRetry, then after twice as
// long each time (up to appendRetryMax), not at every look: a JetStream
// answering late is not flooded with the same appends again.
func TestUnansweredAppendsAreSentAgainLessAndLessOften(t *testing.T) {
	o := &outbox{wake: make(chan struct{}, 1), done: make(chan struct{})} // no sender: the test reads the queue
	l := newTurnLog(&Node{opts: Options{Node: "n1"}, out: o, log: testkit.Logger()})
	start := time.Now()
	l.pending[1] = &logAppend{room: "n1-r", data: []byte("{}"), sent: start, tries: 1}
	sends := func() int {
		n := len(o.q)
		o.q = o.q[:0]
		return n
	}
	// retry looks at the clock; the test moves the append's last send
	// into the past instead. Other appends are answered meanwhile (a busy
	// JetStream, not a silent one: no probe).
	back := func(d time.Duration) {
		l.pending[1].sent = time.Now().Add(-d)
		l.answered = time.Now()
	}
	for i, c := range []struct {
		ago  time.Duration
		want int
	}{
		{appendRetry / 2, 0}, // not yet
		{appendRetry, 1},     // the first resend
		{appendRetry, 0},     // the next waits twice as long
		{2 * appendRetry, 1},
		{3 * appendRetry, 0},
		{4 * appendRetry, 1},
		{appendRetryMax, 1}, // never longer than appendRetryMax
		{appendRetryMax, 1},
	} {
		back(c.ago)
		l.retry()
		if got := sends(); got != c.want {
			t.Fatalf("look %d, last send %v ago (try %d): %d sends, want %d", i, c.ago, l.pending[1].tries, got, c.want)
		}
	}
	if m := l.pending[1]; m.tries != 6 {
		t.Errorf("tries %d, want 6", m.tries)
	}
}

// While JetStream answers no append, the oldest is sent again every
// appendRetry whatever its own delay (a probe); the first answer after
// that sends every append waiting again at once, rather than at its next
// retry (up to appendRetryMax later).
func TestAnswerAfterSilenceSendsTheWaitingAppendsAtOnce(t *testing.T) {
	o := &outbox{wake: make(chan struct{}, 1), done: make(chan struct{})} // no sender: the test reads the queue
	l := newTurnLog(&Node{opts: Options{Node: "n1"}, out: o, log: testkit.Logger()})
	sends := func() []string {
		var subjs []string
		for _, m := range o.q {
			subjs = append(subjs, m.subj)
		}
		o.q = o.q[:0]
		return subjs
	}
	// Two appends sent four times already: their next retries are 16 s
	// after their last.
	long := time.Now().Add(-time.Minute)
	for id, room := range map[uint64]string{1: "n1-old", 2: "n1-older"} {
		l.pending[id] = &logAppend{room: room, data: []byte("{}"), first: long, sent: time.Now().Add(-appendRetry), tries: 5}
	}
	l.pending[2].first = long.Add(-time.Second)
	l.retry()
	if got := sends(); !slices.Equal(got, []string{roomLogPrefix + "n1-older"}) {
		t.Fatalf("during the silence: sent %v; want the oldest append alone (the probe)", got)
	}
	l.retry()
	if got := sends(); len(got) != 0 {
		t.Fatalf("a second later: sent %v; want nothing (one probe every %v)", got, appendRetry)
	}
	// A third append is answered: JetStream is back.
	done := make(chan error, 1)
	l.pending[3] = &logAppend{room: "n1-new", data: []byte("{}"), first: time.Now(), sent: time.Now(), tries: 1, done: func(err error) { done <- err }}
	l.onAck(&nats.Msg{Subject: l.ackSubject(3), Data: []byte(`{"seq":7}`)})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.retry()
	got := sends()
	slices.Sort(got)
	if want := []string{roomLogPrefix + "n1-old", roomLogPrefix + "n1-older"}; !slices.Equal(got, want) {
		t.Errorf("once answered: sent %v; want %v at once", got, want)
	}
}
