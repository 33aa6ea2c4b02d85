package webfs

import (
	"strings"
)

// acceptsGzip reports whether an Accept-Encoding value lets the server send
// gzip (RFC 9110 §12.5.3): "gzip" (or its alias "x-gzip") with a non-zero
// q, or, when gzip is not listed, "*" with a non-zero q. An absent or empty
// value asks for identity.
func acceptsGzip(v string) bool {
	gzipQ, starQ := -1, -1 // -1: not listed; else q in thousandths
	for elem := range strings.SplitSeq(v, ",") {
		coding, params, _ := strings.Cut(elem, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1000
		for p := range strings.SplitSeq(params, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(name), "q") {
				q = parseQ(strings.TrimSpace(value))
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			gzipQ = max(gzipQ, q)
		case "*":
			starQ = max(starQ, q)
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// parseQ parses a qvalue (RFC 9110 §12.4.2) into thousandths. A malformed
// value counts as 0: when in doubt, send identity.
func parseQ(s string) int {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q
	}
	if s[1] != '.' {
		return 0
	}
	scale := 100
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0
	}
	return q
}

// etagMatch reports whether an If-None-Match value matches etag, a strong
// quoted entity-tag, by the weak comparison RFC 9110 §13.1.2 prescribes for
// this header: "W/" prefixes are ignored. "*" matches any current
// representation. A malformed list matches nothing from the first bad
// element on.
func etagMatch(v, etag string) bool {
	v = strings.TrimSpace(v)
	if v == "*" {
		return true
	}
	for {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			return false
		}
		v = strings.TrimPrefix(v, "W/")
		if v == "" || v[0] != '"' {
			return false
		}
		end := strings.IndexByte(v[1:], '"')
		if end < 0 {
			return false
		}
		tag := v[:end+2]
		if tag == etag {
			return true
		}
		v = v[end+2:]
	}
}
