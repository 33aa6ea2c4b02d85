package webfs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [Options].
const (
	// DefaultMaxFileSize bounds the size of a served file. Assets of a
	// browser game are far smaller; bigger files belong on a CDN.
	DefaultMaxFileSize = 8 << 20
	// DefaultCacheBytes bounds the cache of file contents and their gzip
	// forms. It holds the whole asset tree of a typical game several times.
	DefaultCacheBytes = 64 << 20
	// minCompressSize is the smallest body worth compressing: below it the
	// gzip header and trailer eat most of the gain.
	minCompressSize = 256
)

// Errors returned by [New].
var (
	ErrInvalidOptions = errors.New("webfs: invalid options")
	ErrWebrootNotDir  = errors.New("webfs: webroot is not a directory")
)

// Options configure an [FS].
type Options struct {
	// Embedded is the tree compiled into the binary, or nil. It must not
	// change: its files are cached for the life of the FS.
	Embedded fs.FS
	// Webroot is a directory whose files override and extend Embedded, or
	// "" for none.
	Webroot string
	// MaxFileSize bounds the size of a served file; larger files are
	// answered 404. Zero means DefaultMaxFileSize.
	MaxFileSize int64
	// EmbeddedModTime is the Last-Modified of embedded files that carry no
	// modification time themselves, such as those of an embed.FS: typically
	// the executable's modification time or the start time. Zero means that
	// such files are sent without Last-Modified.
	EmbeddedModTime time.Time
	// CacheBytes bounds the bytes of file contents and gzip forms kept in
	// memory. Zero means DefaultCacheBytes; negative disables the cache, so
	// that every request reads (and may compress) the file again.
	CacheBytes int64
	// EmbeddedCSP and WebrootCSP are the Content-Security-Policy sent with
	// every file (200) of Embedded and of Webroot; "" sends none. They
	// must be valid header values (no control characters).
	EmbeddedCSP, WebrootCSP string
}

// FS serves static files. It is safe for concurrent use.
type FS struct {
	embedded   fs.FS
	root       *os.Root // nil without a webroot
	maxFile    int64
	embModTime time.Time
	embCSP     string
	webCSP     string
	cache      cache

	// Counters for tests.
	loads        atomic.Int64 // files read from a source
	compressions atomic.Int64 // gzip forms computed
}

// New returns an FS for o. It opens the webroot, if any, and reports an error
// wrapping [ErrWebrootNotDir] when it is not a directory, or the error of
// opening it (for example one matching [fs.ErrNotExist]). Call [FS.Close] to
// release it.
func New(o Options) (*FS, error) {
	if o.MaxFileSize < 0 {
		return nil, fmt.Errorf("%w: negative MaxFileSize %d", ErrInvalidOptions, o.MaxFileSize)
	}
	for _, v := range []string{o.EmbeddedCSP, o.WebrootCSP} {
		if !ValidCSP(v) {
			return nil, fmt.Errorf("%w: control character in a Content-Security-Policy: %q", ErrInvalidOptions, v)
		}
	}
	f := &FS{
		embedded:   o.Embedded,
		maxFile:    o.MaxFileSize,
		embModTime: o.EmbeddedModTime,
		embCSP:     o.EmbeddedCSP,
		webCSP:     o.WebrootCSP,
	}
	if f.maxFile == 0 {
		f.maxFile = DefaultMaxFileSize
	}
	f.cache.init(o.CacheBytes)
	if o.Webroot != "" {
		if err := CheckWebroot(o.Webroot); err != nil {
			return nil, err
		}
		var err error
		if f.root, err = os.OpenRoot(o.Webroot); err != nil {
			return nil, fmt.Errorf("webfs: webroot: %w", err)
		}
	}
	return f, nil
}

// ValidCSP reports whether policy may be sent as a Content-Security-Policy:
// it has no control characters (a CR or LF would end the header).
func ValidCSP(policy string) bool {
	return !strings.ContainsFunc(policy, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// CheckWebroot reports why dir cannot be a webroot: an error wrapping
// [ErrWebrootNotDir] when it is not a directory, or the error of reading it
// (for example one matching [fs.ErrNotExist]).
func CheckWebroot(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("webfs: webroot: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s", ErrWebrootNotDir, dir)
	}
	return nil
}

// Close releases the webroot. Requests served after Close see only the
// embedded tree. Safe for concurrent use.
func (f *FS) Close() error {
	if f.root == nil {
		return nil
	}
	return f.root.Close()
}

// Request is what Serve needs of an HTTP request.
type Request struct {
	Method string // "GET" or "HEAD"; others are answered 405
	Path   string // percent-decoded path, starting with "/"
	// Raw header values, "" when absent.
	IfNoneMatch, IfModifiedSince, AcceptEncoding string
}

// Response is the answer to a Request.
type Response struct {
	Status int
	// Header holds name, value pairs. It never contains Content-Length or
	// Date: the server adds those.
	Header []string
	// Body is shared and read-only: callers must never modify it. For HEAD
	// it is still the full body, so that the server can send its length;
	// the server omits it on the wire.
	Body []byte
}

var (
	bodyNotFound   = []byte("404 page not found\n")
	bodyTooLarge   = []byte("404 file too large to serve\n")
	bodyNotAllowed = []byte("405 method not allowed\n")
	bodyMoved      = []byte("301 moved permanently\n")
)

const (
	plainText    = "text/plain; charset=utf-8"
	cacheControl = "no-cache"
)

func plain(status int, body []byte, extra ...string) Response {
	h := append([]string{
		"Content-Type", plainText,
		"Cache-Control", cacheControl,
		"X-Content-Type-Options", "nosniff",
	}, extra...)
	return Response{Status: status, Header: h, Body: body}
}

// Serve answers r. It may read files, so it does not belong on an event
// loop. Safe for concurrent use.
func (f *FS) Serve(r Request) Response {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return plain(http.StatusMethodNotAllowed, bodyNotAllowed, "Allow", "GET, HEAD")
	}
	name, index, ok := cleanPath(r.Path)
	if !ok {
		return plain(http.StatusNotFound, bodyNotFound)
	}
	res := f.lookup(name, index)
	switch {
	case res.entry != nil:
		return f.serveEntry(r, res.entry)
	case res.dir:
		loc := (&url.URL{Path: "/" + name + "/"}).EscapedPath()
		return plain(http.StatusMovedPermanently, bodyMoved, "Location", loc)
	case res.tooLarge:
		return plain(http.StatusNotFound, bodyTooLarge)
	default:
		return plain(http.StatusNotFound, bodyNotFound)
	}
}

// cleanPath maps a request path to a name for fs.FS and os.Root, or reports
// that the path is refused. A trailing slash names the directory's
// index.html, and index reports that it did.
func cleanPath(p string) (name string, index, ok bool) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return "", false, false
	}
	p = p[1:]
	if p == "" {
		return "index.html", true, true
	}
	index = strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	for seg := range strings.SplitSeq(p, "/") {
		// Covers "", ".", ".." and dotfiles.
		if seg == "" || seg[0] == '.' {
			return "", false, false
		}
	}
	name = p
	if index {
		name += "/index.html"
	}
	if !fs.ValidPath(name) {
		return "", false, false
	}
	return name, index, true
}

// found is the outcome of a lookup: a file, a directory (to redirect to), a
// file over the size limit, or nothing.
type found struct {
	entry    *entry
	dir      bool
	tooLarge bool
}

// lookup finds name in the webroot, then in the embedded tree. When index
// is set, name is a directory's index.html, which cannot redirect.
func (f *FS) lookup(name string, index bool) found {
	if f.root != nil {
		if res := f.lookupWebroot(name, index); res != (found{}) {
			return res
		}
	}
	if f.embedded != nil {
		return f.lookupEmbedded(name, index)
	}
	return found{}
}

func (f *FS) lookupWebroot(name string, index bool) found {
	st, err := f.root.Stat(name)
	if err != nil {
		// Missing, or a link escaping the root: not served from here.
		return found{}
	}
	if st.IsDir() {
		return found{dir: !index}
	}
	if !st.Mode().IsRegular() {
		return found{} // never open a FIFO or a device
	}
	key := "w/" + name
	if e := f.cache.get(key); e != nil && e.size == st.Size() && e.modTime.Equal(st.ModTime()) {
		return found{entry: e}
	}
	if st.Size() > f.maxFile {
		return found{tooLarge: true}
	}
	file, err := f.root.Open(name)
	if err != nil {
		return found{}
	}
	defer file.Close()
	st, err = file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return found{}
	}
	body, err := readAll(file, st.Size(), f.maxFile)
	if errors.Is(err, errTooLarge) {
		return found{tooLarge: true}
	}
	if err != nil {
		return found{}
	}
	f.loads.Add(1)
	e := f.newEntry(key, name, body, st.ModTime(), f.webCSP)
	e.size = st.Size()
	if int64(len(body)) == st.Size() {
		// Otherwise the file changed while being read: serve what was
		// read, but do not keep it under validators that may not match.
		f.cache.put(e)
	}
	return found{entry: e}
}

func (f *FS) lookupEmbedded(name string, index bool) found {
	key := "e/" + name
	if e := f.cache.get(key); e != nil {
		return found{entry: e}
	}
	st, err := fs.Stat(f.embedded, name)
	if err != nil {
		return found{}
	}
	if st.IsDir() {
		return found{dir: !index}
	}
	if !st.Mode().IsRegular() {
		return found{}
	}
	if st.Size() > f.maxFile {
		return found{tooLarge: true}
	}
	body, err := fs.ReadFile(f.embedded, name)
	if err != nil {
		return found{}
	}
	if int64(len(body)) > f.maxFile {
		return found{tooLarge: true}
	}
	f.loads.Add(1)
	mod := st.ModTime()
	if isZeroTime(mod) {
		mod = f.embModTime
	}
	e := f.newEntry(key, name, body, mod, f.embCSP)
	f.cache.put(e)
	return found{entry: e}
}

var errTooLarge = errors.New("webfs: file too large")

// readAll reads r to the end, expecting size bytes, and fails with
// errTooLarge past limit bytes.
func readAll(r io.Reader, size, limit int64) ([]byte, error) {
	buf := make([]byte, 0, min(size, limit)+1) // +1: room to see EOF
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// isZeroTime reports whether t is unset: the zero Time or the Unix epoch,
// which some file systems and archives use for "unknown".
func isZeroTime(t time.Time) bool {
	return t.IsZero() || t.Equal(time.Unix(0, 0))
}

// entry is one version of one file, ready to serve. All fields but the gzip
// form and the cache bookkeeping are immutable after newEntry.
type entry struct {
	key     string
	size    int64     // validators of a webroot file
	modTime time.Time // file modification time, for Last-Modified; may be zero

	body         []byte
	ctype        string
	etag         string
	lastModified string // formatted modTime, "" if none
	compressible bool   // reports whether a gzip form may be offered
	csp          string // Content-Security-Policy of its source, "" if none

	gzOnce sync.Once
	gz     []byte // nil when compressing does not make the body smaller
	gzETag string

	cost int64 // bytes charged to the cache; guarded by cache.mu
}

// isDocument reports whether a file of this type is rendered as a document
// that may run script (HTML, XHTML, SVG, XML), so that a Content-Security-Policy
// applies to it.
func isDocument(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	switch strings.TrimSpace(mt) {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml":
		return true
	}
	return false
}

func (f *FS) newEntry(key, name string, body []byte, mod time.Time, csp string) *entry {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:8])
	e := &entry{
		key:     key,
		body:    body,
		ctype:   contentType(name, body),
		etag:    `"` + tag + `"`,
		gzETag:  `"` + tag + `-gz"`,
		modTime: mod,
	}
	if isDocument(e.ctype) {
		e.csp = csp // a policy governs documents only: a script, style sheet or image is not one
	}
	if !isZeroTime(mod) {
		e.lastModified = mod.UTC().Format(http.TimeFormat)
	}
	e.compressible = len(body) >= minCompressSize && compressible(e.ctype)
	return e
}

// gzipped returns the gzip form of the body, computing it on first use, or
// nil when it would not be smaller.
func (f *FS) gzipped(e *entry) []byte {
	e.gzOnce.Do(func() {
		f.compressions.Add(1)
		var buf bytes.Buffer
		buf.Grow(len(e.body) / 2)
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			panic(err) // the level is a valid constant
		}
		if _, err := zw.Write(e.body); err != nil {
			panic(err) // bytes.Buffer does not fail
		}
		if err := zw.Close(); err != nil {
			panic(err)
		}
		if buf.Len() < len(e.body) {
			e.gz = buf.Bytes()
			f.cache.grow(e, int64(len(e.gz)))
		}
	})
	return e.gz
}

// serveEntry answers r with e: 200 or 304.
func (f *FS) serveEntry(r Request, e *entry) Response {
	var gz []byte
	if e.compressible && acceptsGzip(r.AcceptEncoding) {
		gz = f.gzipped(e)
	}
	etag, body := e.etag, e.body
	if gz != nil {
		etag, body = e.gzETag, gz
	}

	h := make([]string, 0, 16)
	if notModified(r, etag, e.modTime, e.lastModified != "") {
		// RFC 9110 §15.4.5: the fields a 200 would have carried for
		// cache updates.
		h = append(h, "Cache-Control", cacheControl, "ETag", etag)
		if e.compressible {
			h = append(h, "Vary", "Accept-Encoding")
		}
		return Response{Status: http.StatusNotModified, Header: h}
	}
	h = append(h,
		"Content-Type", e.ctype,
		"Cache-Control", cacheControl,
		"ETag", etag,
		"X-Content-Type-Options", "nosniff",
	)
	if e.lastModified != "" {
		h = append(h, "Last-Modified", e.lastModified)
	}
	if e.compressible {
		h = append(h, "Vary", "Accept-Encoding")
	}
	if gz != nil {
		h = append(h, "Content-Encoding", "gzip")
	}
	if e.csp != "" {
		h = append(h, "Content-Security-Policy", e.csp)
	}
	return Response{Status: http.StatusOK, Header: h, Body: body}
}

// notModified reports whether the conditional headers of r allow a 304 for
// the representation with the given ETag and modification time.
func notModified(r Request, etag string, mod time.Time, hasMod bool) bool {
	if r.IfNoneMatch != "" {
		// RFC 9110 §13.2.2: If-Modified-Since is not evaluated when
		// If-None-Match is present.
		return etagMatch(r.IfNoneMatch, etag)
	}
	if r.IfModifiedSince == "" || !hasMod {
		return false
	}
	since, err := http.ParseTime(r.IfModifiedSince)
	if err != nil {
		return false // RFC 9110 §13.1.3: an invalid date is ignored
	}
	return !mod.Truncate(time.Second).After(since)
}
