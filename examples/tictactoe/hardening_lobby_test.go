package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/cometplay/cometplay/comet"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometplay/cometplay/engine"
	"github.com/cometplay/cometplay/examples/tictactoe/ttt"
	"github.com/cometplay/cometplay/internal/cometclient"
	"github.com/cometplay/cometplay/internal/testkit"
	"github.com/cometplay/cometplay/lobby"
	"github.com/cometplay/cometplay/rooms"
)

// TestHardeningLobbyFlood: one address cannot take the lobby down. With
// 1,000 / 20,000 rooms listed, 40 sessions of one address (127.0.0.2) flood
// the lobby as fast as the server answers them (the engine's publish rate
// is off, so the lobby's own limits are what is tested): "list" pages,
// "create" and chat, 8 requests in flight per session. Meanwhile new
// players from another address (127.0.0.3) say hello one after another:
// every hello is accepted (never "lobby: busy") and answered with welcome;
// the lobby's queue never holds more than the flooding address's share
// (lobby.Options.QueuePerAddr) and the newcomers' hellos; the flooding
// address has at most rooms.DefaultMaxWaitingPerAddr rooms waiting; and
// what the flood was refused is refused with its reason. Before the fix,
// "list" copied and sorted every room on the lobby's goroutine, the flood
// filled its queue, and a new player got "lobby: busy". No time is
// asserted: what a busy machine changes (how many requests the flood gets
// through) is only logged.
func TestHardeningLobbyFlood(t *testing.T) {
	listed := testkit.Scale(1000, 20000)
	newcomers := testkit.Scale(5, 20)
	const attackers, inFlight = 40, 8
	hs := startHardSiteWith(t, func(c *config) {
		c.Comet = comet.Config{PublishRate: -1}
	})
	for i := range listed {
		// Each waits with its creator in it (the lobby lists no empty
		// room), a player without a session, for the whole test.
		id := fmt.Sprint("creator", i)
		if _, err := hs.s.Rooms().Create(ttt.Name, rooms.PlayerInfo{SessionID: id, PlayerID: id, Name: id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	watcher := hs.player("Watcher")
	watcher.find(0, fmt.Sprintf("%d rooms in the lobby", listed), func(e cometclient.Event) bool {
		var d struct{ Count int }
		return (e["type"] == "rooms" || e["type"] == "rooms-delta") && e.JSON(&d) == nil && d.Count == listed
	})

	flood := clientFrom(t, "127.0.0.2")
	var sessions []*cometclient.Client
	for i := range attackers {
		c, err := cometclient.Join(context.Background(), hs.base, flood)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Publish(context.Background(), "/lobby", "action", "hello", "name", fmt.Sprint("Flood", i)); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, c)
	}
	hEventuallyT(t, "the flood's hellos", func() bool { return int(hs.s.Lobby().Stats().PlayersOnline) >= attackers+1 })

	var (
		sent, accepted atomic.Int64
		refusals       sync.Map // reason → *atomic.Int64
		stop           = make(chan struct{})
		wg             sync.WaitGroup
	)
	for i, c := range sessions {
		for j := range inFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(i), uint64(j)))
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					var kv []string
					switch n % 8 {
					case 0:
						kv = []string{"action", "create", "game", ttt.Name}
					case 1:
						kv = []string{"action", "chat", "text", "spam"}
					default:
						kv = []string{"action", "list", "what", "rooms", "offset", fmt.Sprint(rng.IntN(listed))}
					}
					sent.Add(1)
					err := c.Publish(context.Background(), "/lobby", kv...)
					var ne *cometclient.NackError
					switch {
					case err == nil:
						accepted.Add(1)
					case errors.As(err, &ne):
						v, _ := refusals.LoadOrStore(ne.Reason, new(atomic.Int64))
						v.(*atomic.Int64).Add(1)
					default:
						return // the test is over and the server gone
					}
				}
			}()
		}
	}
	// The lobby's queue, sampled while the flood runs.
	var maxQueued atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if q := int64(hs.s.Lobby().Stats().Queued); q > maxQueued.Load() {
				maxQueued.Store(q)
			}
			time.Sleep(time.Millisecond) // a sampling period, not a synchronization
		}
	}()
	hEventuallyT(t, "the flood under way", func() bool { return sent.Load() >= int64(10*attackers*inFlight) })

	other := clientFrom(t, "127.0.0.3")
	for i := range newcomers {
		p := hs.playerWith(other, fmt.Sprint("New", i)) // fails the test on a nack (busy) or no welcome
		if p.id == "" {
			t.Fatalf("newcomer %d: welcome without a player id", i)
		}
	}
	during := sent.Load()
	close(stop)
	wg.Wait()
	<-sampled

	share := int64(lobby.DefaultQueueSize / 16) // lobby.Options.QueuePerAddr's default
	if q := maxQueued.Load(); q > share+1 {
		t.Errorf("the lobby's queue held %d actions during the flood; want at most the flooding address's share (%d) and a newcomer's hello", q, share)
	}
	made := hs.s.Rooms().NumRooms() - listed
	if made > rooms.DefaultMaxWaitingPerAddr || made == 0 {
		t.Errorf("the flooding address made %d rooms; want 1..%d", made, rooms.DefaultMaxWaitingPerAddr)
	}
	var why []string
	refusals.Range(func(k, v any) bool {
		reason := k.(string)
		why = append(why, fmt.Sprintf("%q ×%d", reason, v.(*atomic.Int64).Load()))
		if reason != lobby.ErrAddrBusy.Error() && reason != lobby.ErrRateLimited.Error() && reason != lobby.ErrChatBusy.Error() {
			t.Errorf("the flood was refused for an unexpected reason: %q", reason)
		}
		return true
	})
	t.Logf("%d rooms listed; %d newcomers welcomed while 40 sessions of one address sent %d requests (%d before the last welcome), %d accepted, %d waiting rooms made; refused: %s; queue at most %d",
		listed, newcomers, sent.Load(), during, accepted.Load(), made, strings.Join(why, ", "), maxQueued.Load())
}

// TestHardeningDemoClock: /demo/clock is off unless asked for (404: its
// streams need no session, so an open one is anybody's connection), and
// when on, its streams are capped per address (503 with the reason).
func TestHardeningDemoClock(t *testing.T) {
	off := startHardSite(t, comet.Config{}, 0)
	if resp := hGet(t, off.hc, off.base+"/demo/clock"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the demo clock by default: %d; want 404", resp.StatusCode)
	}
	on := startHardSiteWith(t, func(c *config) {
		c.DemoClock, c.ClockDemo = true, engine.ClockDemo{MaxPerAddr: 2}
	})
	for i := range 2 {
		resp, err := on.hc.Get(on.base + "/demo/clock")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 {
			t.Fatalf("clock stream %d: %d", i, resp.StatusCode)
		}
	}
	resp := hGet(t, on.hc, on.base+"/demo/clock")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.body, "too many clock streams from this address") {
		t.Fatalf("a third clock stream from one address: %d %q; want 503", resp.StatusCode, resp.body)
	}
}

// hResp is a complete response.
type hResp struct {
	*http.Response
	body string
}

// hGet does a GET and reads the whole response.
func hGet(t *testing.T, hc *http.Client, url string) hResp {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return hResp{resp, string(b)}
}
