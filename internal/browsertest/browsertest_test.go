package browsertest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFindChromiumMissing(t *testing.T) {
	saved := execCandidates
	t.Cleanup(func() { execCandidates = saved })
	execCandidates = []string{"/nonexistent/chromium", "no-such-browser-anywhere"}
	t.Setenv("CHROMIUM", "")
	_, err := FindChromium()
	if err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("FindChromium() error = %v; want one telling to run make deps", err)
	}
	t.Setenv("CHROMIUM", "/nonexistent/chromium")
	if _, err := FindChromium(); err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("with a bad $CHROMIUM: error = %v; want one telling to run make deps", err)
	}
}

// TestPage drives a real browser: evaluation, waiting, isolation of browser
// contexts, and the console errors that must fail a test.
func TestPage(t *testing.T) {
	b := Start(t)
	p := b.NewPage(t, "data:text/html,<title>x</title><p id=p>hello</p>")
	if got := Eval[string](p, `document.getElementById('p').textContent`); got != "hello" {
		t.Fatalf("Eval = %q", got)
	}
	if got := Eval[int](p, `new Promise(r => setTimeout(() => r(42), 10))`); got != 42 {
		t.Fatalf("Eval of a promise = %d", got)
	}
	p.Run(`setTimeout(() => { window.ready = true }, 50)`)
	p.WaitFor("ready", `window.ready === true`, 5*time.Second)
	if err := p.Poll(`false`, 50*time.Millisecond); err == nil {
		t.Fatal("Poll of a condition that never holds returned no error")
	}

	// Console errors and exceptions are caught; network errors are not
	// failures.
	p.Run(`console.error('boom'); setTimeout(() => { throw new Error('uncaught') }); ` +
		`fetch('http://127.0.0.1:1/').catch(() => {}); setTimeout(() => Promise.reject(new Error('rejected')))`)
	deadline := time.Now().Add(5 * time.Second)
	for len(p.ConsoleErrors()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	errs := strings.Join(p.ConsoleErrors(), "\n")
	for _, want := range []string{"boom", "uncaught", "rejected"} {
		if !strings.Contains(errs, want) {
			t.Errorf("console errors %q lack %q", errs, want)
		}
	}
	if strings.Contains(errs, "[network]") {
		t.Errorf("a network error counts as a failure: %q", errs)
	}
	p.AllowConsole(`boom|uncaught|rejected`)
	if bad := p.ConsoleErrors(); len(bad) != 0 {
		t.Errorf("allowed errors still reported: %q", bad)
	}

	// Pages of one browser context share BroadcastChannels; an isolated
	// context's do not.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<p>x</p>"))
	}))
	t.Cleanup(srv.Close)
	c1, c2 := b.NewContext(t), b.NewContext(t)
	a1, a2, other := c1.NewPage(t, srv.URL), c1.NewPage(t, srv.URL), c2.NewPage(t, srv.URL)
	for _, x := range []*Page{a2, other} {
		x.Run(`window.got = 'none'; new BroadcastChannel('t').onmessage = e => { window.got = e.data }`)
	}
	a1.Run(`new BroadcastChannel('t').postMessage('hi')`)
	a2.WaitFor("the message in the same context", `window.got === 'hi'`, 5*time.Second)
	a1.Run(`new BroadcastChannel('t').postMessage('again')`)
	a2.WaitFor("the second message", `window.got === 'again'`, 5*time.Second)
	if got := Eval[string](other, `window.got`); got != "none" {
		t.Errorf("an isolated context received %q", got)
	}

	dir, err := OutputDir(t)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil || !strings.HasSuffix(filepath.ToSlash(dir), "test-output/TestPage") {
		t.Errorf("OutputDir = %q, %v", dir, err)
	}
	if got := strings.Split(safeName("a/b c:d"), ""); !slices.Contains(got, "_") {
		t.Errorf("safeName kept unsafe characters: %q", strings.Join(got, ""))
	}
}
