package comet

import (
	"testing"

	"github.com/cometplay/cometplay/internal/testkit"
)

// TestPollWaitAsked: a poll client may ask for a shorter wait than the
// server's with p_wait on listen and refresh; it gets it, but never below
// PollWaitFloor nor above the server's own. A long-poll's p_wait and a poll
// that asks nothing are the server's; an invalid p_wait is nacked.
func TestPollWaitAsked(t *testing.T) {
	th := newTestHub(t, Config{PollWaitMin: 5000, PollWaitMax: 5000, PollWaitFloor: 200})
	id := th.join(FormatJSON)
	wait := func(evs []wireEvent) string {
		t.Helper()
		for _, e := range evs {
			if e["p_event"] == "refresh" {
				return e["p_wait"]
			}
		}
		t.Fatalf("no refresh in %v", evs)
		return ""
	}
	for _, c := range []struct {
		name, event, asked, want string
	}{
		{"listen asking nothing", "listen", "", "5000"},
		{"listen asking 300", "listen", "300", "300"},
		{"refresh asking 300", "refresh", "300", "300"},
		{"refresh asking below the floor", "refresh", "50", "200"},
		{"refresh asking 0", "refresh", "0", "200"},
		{"refresh asking more than the server's", "refresh", "999999", "5000"},
		{"refresh asking nothing", "refresh", "", "5000"},
	} {
		kv := []string{"p_event", c.event, "p_id", id}
		if c.event == "listen" {
			kv = append(kv, "p_mode", "poll")
		}
		if c.asked != "" {
			kv = append(kv, "p_wait", c.asked)
		}
		if got := wait(th.do(FormatJSON, testkit.Query(kv...))); got != c.want {
			t.Errorf("%s: p_wait = %s; want %s", c.name, got, c.want)
		}
	}
	for _, bad := range []string{"-1", "abc", "1e3", "99999999999"} {
		evs := th.do(FormatJSON, testkit.Query("p_event", "refresh", "p_id", id, "p_wait", bad))
		if len(evs) != 1 || evs[0]["p_event"] != "nack" || evs[0]["p_reason"] != "invalid p_wait" {
			t.Errorf("p_wait=%s: %v; want nack invalid p_wait", bad, evs)
		}
	}

	// Long-poll comes back at once anyway: its p_wait stays the server's.
	pull := th.join(FormatJSON)
	if got := wait(th.do(FormatJSON, testkit.Query("p_event", "listen", "p_id", pull, "p_mode", "pull", "p_wait", "300"))); got < "2000" || got > "6000" || len(got) != 4 {
		t.Errorf("long-poll asking 300: p_wait = %s; want the server's 2000..6000", got)
	}

	// The default floor: 1000 ms.
	th = newTestHub(t, Config{})
	id = th.join(FormatJSON)
	if got := wait(th.do(FormatJSON, testkit.Query("p_event", "listen", "p_id", id, "p_mode", "poll", "p_wait", "0"))); got != "1000" {
		t.Errorf("default floor: p_wait = %s; want 1000", got)
	}
}
