package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecoveryOf(t *testing.T) {
	const kill = int64(1_000_000_000_000)
	s := func(d time.Duration) int64 { return kill + int64(d) }
	bound := 10 * time.Second
	for _, tc := range []struct {
		name string
		at   []int64
		want recoveryStats
	}{
		{"none", nil, recoveryStats{}},
		{"one", []int64{s(3 * time.Second)}, recoveryStats{Rooms: 1, Recovered: 1, Min: 3 * time.Second, P50: 3 * time.Second, P99: 3 * time.Second, Max: 3 * time.Second}},
		{"nearest rank, order ignored", []int64{s(4 * time.Second), s(time.Second), s(3 * time.Second), s(2 * time.Second)},
			recoveryStats{Rooms: 4, Recovered: 4, Min: time.Second, P50: 2 * time.Second, P99: 4 * time.Second, Max: 4 * time.Second}},
		{"a lost room is the slowest", []int64{s(time.Second), 0, s(2 * time.Second)},
			recoveryStats{Rooms: 3, Recovered: 2, Min: time.Second, P50: 2 * time.Second, P99Lost: true, Max: 2 * time.Second}},
		{"past the bound is lost", []int64{s(time.Second), s(bound + time.Nanosecond)},
			recoveryStats{Rooms: 2, Recovered: 1, Min: time.Second, P50: time.Second, P99Lost: true, Max: time.Second}},
		{"at the bound is not", []int64{s(bound)}, recoveryStats{Rooms: 1, Recovered: 1, Min: bound, P50: bound, P99: bound, Max: bound}},
		{"all lost", []int64{0, 0}, recoveryStats{Rooms: 2, P50Lost: true, P99Lost: true}},
	} {
		if got := recoveryOf(kill, tc.at, bound); got != tc.want {
			t.Errorf("%s: recoveryOf = %+v; want %+v", tc.name, got, tc.want)
		}
	}
	// 1% of 1,000 rooms lost: p99 is the 990th, a room recovered; 11 lost: not.
	at := make([]int64, 1000)
	for i := range at {
		at[i] = s(time.Duration(i+1) * time.Millisecond)
	}
	for i := range 10 {
		at[i] = 0
	}
	if got := recoveryOf(kill, at, bound); got.P99Lost || got.P99 != time.Second || got.Recovered != 990 {
		t.Errorf("10 of 1,000 lost: %+v; want p99 1s, 990 recovered", got)
	}
	at[10] = 0
	if got := recoveryOf(kill, at, bound); !got.P99Lost {
		t.Errorf("11 of 1,000 lost: %+v; want p99 on a lost room", got)
	}
	if got := (recoveryStats{}).quantile(0, true, bound); got != "> 10.0s" {
		t.Errorf("a lost quantile reads %q; want > 10.0s", got)
	}
}

// TestRetaken: takes beyond the rooms are rooms taken over again (from a
// survivor deposed in turn), the figure the recovery target wants at 0.
func TestRetaken(t *testing.T) {
	rep := &recoverReport{o: recoverOptions{Rooms: 300}, nodes: []recoverNode{{Tag: "n1", TakenOver: 300}, {Tag: "n3", TakenOver: 168}}}
	if got := rep.retaken(); got != 168 {
		t.Errorf("retaken = %d; want 168", got)
	}
	if rep.targets()[0].Met {
		t.Error("the recovery target is met with 168 rooms taken twice")
	}
	rep.nodes[0].TakenOver = 132
	if got := rep.retaken(); got != 0 {
		t.Errorf("retaken of a split = %d; want 0", got)
	}
}

// TestClusterRecoverCommand: a few rooms on n2 of three node processes, n2
// killed: every room comes back on n1 or n3 (resynced, its move applied),
// and the section and its targets are written.
func TestClusterRecoverCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "RESULTS.md")
	s, _ := runCommand(t, []string{"cluster-recover", "-out", out, "-rooms", "4", "-within", "2m", "-ctrl-conns", "2"}, out)
	for _, want := range []string{"<!-- bench:cluster-recover:start -->", "## Cluster: a killed node's rooms recovered", "### From the kill", "### The survivors' account",
		"| cluster-recover | a killed node's rooms: every one resynced"} {
		if !strings.Contains(s, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, s)
		}
	}
	// 4 of 4 back; the target's status is not asserted: a busy machine
	// may have a survivor take a room again from the other (CLUSTER.md,
	// "Recovery"), which the section reports.
	row := tableRow(s, "| a killed node's rooms")
	if len(row) < 5 || row[2] != "4 of 4" {
		t.Errorf("recovery target row %q; want 4 of 4:\n%s", row, s)
	} else {
		t.Logf("recovery target: %s, %s", row[3], row[4])
	}
	for _, what := range []string{"| the room's first resync", "| the room's first move"} {
		if row := tableRow(s, what); len(row) != 7 || row[1] != "4" || row[6] != "0" {
			t.Errorf("row %q; want 4 rooms, 0 lost", row)
		}
	}
	var restored int
	for _, tag := range []string{"| n1 |", "| n3 |"} {
		row := tableRow(s, tag)
		if len(row) != 8 {
			t.Fatalf("no survivor row %s:\n%s", tag, s)
		}
		n := 0
		for _, c := range row[2] {
			n = n*10 + int(c-'0')
		}
		restored += n
	}
	if restored < 4 {
		t.Errorf("rooms rebuilt by n1 and n3: %d; want 4 (or more, some taken over twice)", restored)
	}
}
