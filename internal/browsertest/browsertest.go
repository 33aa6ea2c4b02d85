// Package browsertest drives Chromium from Go tests, through chromedp.
//
// A test starts one browser with Start, opens tabs with NewPage (in the
// browser's default context) or with NewContext().NewPage (in an isolated
// browser context: its own cookies, storage, Web Locks and BroadcastChannels,
// as a second player on another machine would have), evaluates JavaScript
// with Eval and Run, and waits for conditions with WaitFor, which polls in
// the page until the condition holds or its deadline passes (no fixed
// sleeps).
//
// Every page records its console. An uncaught exception, an unhandled
// promise rejection, a console.error call or an error-level browser log entry
// fails the test when the page closes, unless a pattern given to
// Page.AllowConsole matches it. Network errors ("Failed to load resource",
// aborted requests) are expected in Comet tests and never fail one; they are
// printed with the rest of the console log when the test fails.
//
// When a test fails, a screenshot of each of its open pages and its console
// log are saved under test-output/<TestName>/ at the module root.
//
// Chromium must be installed: if it is missing, Start fails the test (it
// never skips) and says to run `make deps`.
//
// A Browser, a Context and a Page may be used from any goroutine, but a Page
// must not run two actions at once (chromedp's rule for one tab).
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// DefaultTimeout bounds Eval, Run and the start of a page.
const DefaultTimeout = 15 * time.Second

// execCandidates are the browsers looked for, in order, after $CHROMIUM.
var execCandidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// FindChromium returns the path of the browser to drive: $CHROMIUM if set,
// else the first of Debian's /usr/bin/chromium and the usual names found on
// $PATH.
func FindChromium() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("browsertest: $CHROMIUM=%s: %w (unset it to use Debian's chromium, installed by `make deps`)", p, err)
		}
		return p, nil
	}
	for _, c := range execCandidates {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", errors.New("browsertest: chromium not found (looked for $CHROMIUM, " + strings.Join(execCandidates, ", ") + "); run `make deps` to install it")
}

// Browser is one Chromium process.
type Browser struct {
	t       testing.TB
	ctx     context.Context // the browser's first tab, kept on about:blank
	root    *Context
	dataDir string

	mu    sync.Mutex
	pages map[*Page]struct{}
}

// Start launches a headless Chromium with an empty profile and stops it when
// the test ends. It fails the test if Chromium is missing or does not start.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := FindChromium()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox, // needed as root; harmless otherwise in a test
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1024, 768),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, dataDir: dir, pages: map[*Page]struct{}{}}
	b.root = &Context{b: b}
	b.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir) // best effort: the browser has exited
	})
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: starting %s: %v", path, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("browsertest: %s did not start within 30 s", path)
	}
	return b
}

// NewPage opens a tab in the browser's default context and navigates it to
// url. The tab closes when t ends (or with Page.Close).
func (b *Browser) NewPage(t testing.TB, url string) *Page {
	t.Helper()
	return b.root.NewPage(t, url)
}

// NewContext creates an isolated browser context (like a separate incognito
// profile): its pages share nothing with the others. It is disposed when t ends.
func (b *Browser) NewContext(t testing.TB) *Context {
	t.Helper()
	res, err := chromedp.CallBrowser(b.ctx, target.CreateBrowserContext, target.CreateBrowserContextParams{})
	if err != nil {
		t.Fatalf("browsertest: new browser context: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		chromedp.CallBrowser(ctx, target.DisposeBrowserContext, target.DisposeBrowserContextParams(res))
	})
	return &Context{b: b, id: res.BrowserContextID}
}

// Context is a browser context: a set of tabs sharing cookies, storage,
// Web Locks and BroadcastChannels.
type Context struct {
	b  *Browser
	id cdp.BrowserContextID // "" for the default context
}

// NewPage opens a tab in this browser context and navigates it to url ("" or
// "about:blank" for a blank tab).
func (c *Context) NewPage(t testing.TB, url string) *Page {
	t.Helper()
	var opts []chromedp.ContextOption
	if c.id != "" {
		opts = append(opts, chromedp.WithExistingBrowserContext(c.id))
	}
	ctx, cancel := chromedp.NewContext(c.b.ctx, opts...)
	p := &Page{t: t, b: c.b, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		t.Fatalf("browsertest: new tab: %v", err)
	}
	c.b.mu.Lock()
	p.name = fmt.Sprintf("page%d", len(c.b.pages)+1)
	c.b.pages[p] = struct{}{}
	c.b.mu.Unlock()
	messages := chromedp.Console(ctx) // subscribed now, before the navigation
	go func() {
		defer close(p.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			p.saveArtifacts()
		}
		p.Close()
	})
	if url != "" && url != "about:blank" {
		p.Navigate(url)
	}
	return p
}

// Page is one browser tab.
type Page struct {
	t      testing.TB
	b      *Browser
	name   string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the console reader ends

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	allowed []*regexp.Regexp
	closed  bool
}

// Name returns the page's name in artifacts and messages ("page1", ...).
func (p *Page) Name() string { return p.name }

// Context returns the chromedp context of the tab, for actions this package
// does not wrap.
func (p *Page) Context() context.Context { return p.ctx }

// SetName renames the page in messages and artifact file names.
func (p *Page) SetName(name string) { p.name = name }

// AllowConsole makes console errors matching pattern (a regular expression)
// acceptable for this page.
func (p *Page) AllowConsole(pattern string) {
	p.mu.Lock()
	p.allowed = append(p.allowed, regexp.MustCompile(pattern))
	p.mu.Unlock()
}

// Navigate loads url and waits for its load event.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		p.fatalf("navigate to %s: %v", url, err)
	}
}

// Eval evaluates the JavaScript expression js in the page (awaiting it if it
// is a promise) and decodes its value into T. It fails the test on an
// exception or after DefaultTimeout.
func Eval[T any](p *Page, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fatalf("eval %s: %v", abbrev(js), err)
	}
	return v
}

// Run evaluates js for its effect, awaiting it if it is a promise.
func (p *Page) Run(js string) {
	p.t.Helper()
	Eval[chromedp.Void](p, js)
}

// WaitFor polls the JavaScript expression cond in the page until it is
// truthy, and fails the test with what (and the page's text) if timeout
// passes first.
func (p *Page) WaitFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	if err := p.Poll(cond, timeout); err != nil {
		p.fatalf("waiting for %s (%s): %v\npage text:\n%s", what, abbrev(cond), err, p.text())
	}
}

// Poll is WaitFor returning the error instead of failing the test.
func (p *Page) Poll(cond string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
}

// text returns the page's visible text (at most 4 KiB), for failure messages.
func (p *Page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	if len(s) > 4096 {
		s = "…" + s[len(s)-4096:]
	}
	return s
}

func (p *Page) fatalf(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("browsertest: %s: "+format, append([]any{p.name}, args...)...)
}

// Close closes the tab (the page gets pagehide, as when a user closes it)
// and fails the test if its console recorded errors. Closing twice is a no-op.
func (p *Page) Close() {
	p.t.Helper()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	p.b.mu.Lock()
	delete(p.b.pages, p)
	p.b.mu.Unlock()
	if bad := p.ConsoleErrors(); len(bad) > 0 {
		p.t.Errorf("browsertest: %s: console errors:\n  %s\nfull console:\n%s", p.name, strings.Join(bad, "\n  "), p.ConsoleLog())
	}
}

// ConsoleErrors returns the console messages that fail a test.
func (p *Page) ConsoleErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var bad []string
	for _, m := range p.console {
		if !failing(m) {
			continue
		}
		s := describe(m)
		allowed := false
		for _, re := range p.allowed {
			if re.MatchString(s) {
				allowed = true
				break
			}
		}
		if !allowed {
			bad = append(bad, s)
		}
	}
	return bad
}

// ConsoleLog returns every console message recorded so far, one a line.
func (p *Page) ConsoleLog() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, m := range p.console {
		fmt.Fprintf(&b, "%s %s\n", m.Time.Format("15:04:05.000"), describe(m))
	}
	return b.String()
}

// failing reports whether m fails a test: exceptions, console.error and
// error-level log entries, except the network's (reconnecting clients
// abort requests and see refused connections by design).
func failing(m chromedp.ConsoleMessage) bool {
	if m.IsException() {
		return true
	}
	return m.Type == chromedp.ConsoleError && m.Source != "network"
}

func describe(m chromedp.ConsoleMessage) string {
	s := m.String()
	if m.Source != "" {
		s = "[" + m.Source + "] " + s
	}
	if m.URL != "" {
		s += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
	}
	return s
}

// saveArtifacts writes a screenshot and the console log of the page under
// test-output/<TestName>/.
func (p *Page) saveArtifacts() {
	dir, err := OutputDir(p.t)
	if err != nil {
		p.t.Logf("browsertest: %v", err)
		return
	}
	base := filepath.Join(dir, safeName(p.name))
	if err := os.WriteFile(base+".console.txt", []byte(p.ConsoleLog()), 0o644); err != nil {
		p.t.Logf("browsertest: %v", err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("browsertest: screenshot of %s: %v", p.name, err)
		return
	}
	if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		p.t.Logf("browsertest: %v", err)
		return
	}
	p.t.Logf("browsertest: saved %s.png and its console log", base)
}

// OutputDir creates and returns test-output/<TestName>/ at the module root
// (subtests nest: test-output/TestX/sub/).
func OutputDir(t testing.TB) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	parts := strings.Split(t.Name(), "/")
	for i, s := range parts {
		parts[i] = safeName(s)
	}
	dir := filepath.Join(append([]string{root, "test-output"}, parts...)...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("browsertest: no go.mod above %s", dir)
		}
		d = parent
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if s == "" || s == "." || s == ".." {
		s = "_"
	}
	return s
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
