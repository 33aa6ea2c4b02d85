// Package webfs answers GET and HEAD requests for static files: the browser
// side of a cometplay game (pages, scripts, style sheets, the pushlet client
// library, images, sounds, fonts). It is pure: a [Request] in, a [Response]
// out, no sockets. The engine calls [FS.Serve] off the event loop, because it
// may read files, and writes the response itself.
//
// # Sources
//
// Files come from two trees. The webroot, a directory on disk, comes first: a
// file there overrides the embedded file with the same path, and files that
// exist only there extend the embedded tree. The embedded tree (usually
// static.FS(), compiled into the binary) answers everything else.
//
// # Paths
//
// Request paths arrive percent-decoded and are checked before any file is
// touched. A path is refused, with the same 404 as a missing file, when it
// does not start with "/", contains a backslash or NUL, has an empty segment
// ("//"), a "." or ".." segment (so "/%2e%2e/etc/passwd" is refused once
// decoded), or a segment beginning with "." (dotfiles such as .git or .env in
// a webroot that is also a checkout). Refusals are never 403, so the answer
// does not tell what exists. The webroot is opened with [os.OpenRoot]:
// symbolic links are followed only while they stay inside it.
//
// "/" and "/dir/" serve index.html of that directory; "/dir", a directory
// requested without the slash, is answered 301 to "/dir/" (the query string
// is not known here and is lost). Directories are never listed.
//
// # Responses
//
// The Content-Type comes from the file extension: an explicit table for the
// types a browser game uses, then [mime.TypeByExtension] (which reads the
// system's tables), then sniffing with [http.DetectContentType]. Text types
// carry "; charset=utf-8". TypeScript (.ts, .d.ts) is served as text/plain,
// for reading, never as the MPEG transport stream some system tables say.
// Every file response carries "X-Content-Type-Options: nosniff". A file
// (200) carries the Content-Security-Policy of its tree when one is set
// ([Options.EmbeddedCSP], [Options.WebrootCSP]): the embedded tree holds
// the site's own pages, which keep a strict policy, while a webroot may hold
// pages that need another, such as Pushlet's original clients.
//
// ETags are strong and derived from the content (the first 16 hex digits of
// its SHA-256); the gzip form has its own ETag with the suffix "-gz". Every
// response that could have been compressed carries "Vary: Accept-Encoding".
// If-None-Match (a list, "*", weak comparison as RFC 9110 §13.1.2 requires
// for this header) and, only when If-None-Match is absent, If-Modified-Since
// (RFC 9110 §13.2.2) are answered 304. Last-Modified is the file's
// modification time for webroot files and for embedded files that have one;
// an embedded file without one (embed.FS has none) gets
// [Options.EmbeddedModTime], and no Last-Modified when that is zero too.
//
// Cache-Control is "no-cache": browsers keep the files but revalidate them on
// every use, which costs a 304 with no body. Developers edit files in the
// webroot while the server runs and must see the change on reload, without
// fingerprinted file names.
//
// Range requests are not supported: every 200 carries the whole file.
//
// # Size limits and caching
//
// A file larger than [Options.MaxFileSize] (default [DefaultMaxFileSize]) is
// answered 404 with a body that says so: responses are whole files in memory,
// and a browser game has no business sending anything that large.
//
// Text types (text/*, JavaScript, JSON, XML, SVG) of at least 256 bytes are
// gzip-compressed when the client accepts gzip (RFC 9110 §12.5.3: "gzip" or
// "*" with a non-zero q, and not "gzip;q=0"), and only if the result is
// smaller. Compression happens once per file version: the file, its ETag and
// its gzip form are kept in a cache bounded by [Options.CacheBytes] (default
// [DefaultCacheBytes]) that evicts the least recently used files. An embedded
// file stays valid forever; a webroot file is revalidated on every request by
// its size and modification time (one stat), and reloaded when either
// changes. A rewrite that keeps both the size and the modification time (on a
// file system with coarse timestamps) is not noticed until the file is
// evicted or changes again.
//
// # Concurrency and ownership
//
// An [FS] is safe for concurrent use. A Response's Body is shared with the
// cache and with other responses: it is read-only, and callers must never
// modify it. Its Header slice belongs to the caller.
package webfs
