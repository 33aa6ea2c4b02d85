package cluster

import "testing"

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
