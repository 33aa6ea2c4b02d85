package webfs

import (
	"mime"
	"net/http"
	"path"
	"strings"
)

// types maps extensions to the Content-Type a browser game needs, so that
// the answer does not depend on the system's MIME tables.
var types = map[string]string{
	".html":  "text/html; charset=utf-8",
	".htm":   "text/html; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8", // RFC 9239
	".mjs":   "text/javascript; charset=utf-8",
	".json":  "application/json", // UTF-8 by definition (RFC 8259 §8.1)
	".map":   "application/json", // source maps are JSON
	".svg":   "image/svg+xml",
	".xml":   "text/xml; charset=utf-8",
	".txt":   "text/plain; charset=utf-8",
	".ts":    "text/plain; charset=utf-8", // also .d.ts: for reading, not MPEG-TS
	".png":   "image/png",
	".jpg":   "image/jpeg",
	".jpeg":  "image/jpeg",
	".gif":   "image/gif",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".avif":  "image/avif",
	".wasm":  "application/wasm",
	".woff":  "font/woff",
	".woff2": "font/woff2",
	".ttf":   "font/ttf",
	".otf":   "font/otf",
	".mp3":   "audio/mpeg",
	".ogg":   "audio/ogg",
	".wav":   "audio/wav",
	".webm":  "video/webm",
	".mp4":   "video/mp4",
}

// contentType returns the Content-Type of a file by its name, falling back
// to the system's tables and then to sniffing body.
func contentType(name string, body []byte) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := types[ext]; ok {
		return t
	}
	if ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	return http.DetectContentType(body)
}

// compressible reports whether a Content-Type is text that gzip shrinks.
// Images, fonts, audio and WebAssembly are left alone.
func compressible(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"),
		strings.HasSuffix(mt, "+xml"): // image/svg+xml among them
		return true
	}
	switch mt {
	case "application/javascript", "application/json", "application/xml":
		return true
	}
	return false
}
