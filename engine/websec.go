package engine

import (
	"bytes"
	"strings"

	"github.com/cometplay/cometplay/httpcodec"
)

// DefaultPageCSP is the default Config.PageCSP, the Content-Security-Policy
// of the embedded site's files: script, style, frames and requests of the
// page's own origin only, no inline script or style, no eval, no plugins,
// no <base>; forms post to the origin only. The pages of static/ say the same
// in a <meta> element. It does not restrict who may frame the pages
// (frame-ancestors): a game may be embedded in a portal's page.
const DefaultPageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"

// redactTarget returns a request target for the access log with the value
// of every parameter named in rs (RedactParam) cut to its first bytes and
// marked REDACTED. A parameter whose name does not decode, or decodes to a
// redacted name in any case, is redacted too. A target without them is
// returned as it is.
func redactTarget(target []byte, rs []redaction) string {
	q := bytes.IndexByte(target, '?')
	if q < 0 || len(rs) == 0 {
		return string(target)
	}
	var b strings.Builder
	b.Grow(len(target))
	b.Write(target[:q+1])
	var name []byte
	for i, pair := range bytes.Split(target[q+1:], []byte("&")) {
		if i > 0 {
			b.WriteByte('&')
		}
		k, v, hasValue := bytes.Cut(pair, []byte("="))
		var err error
		name, err = httpcodec.AppendUnescape(name[:0], k, true)
		keep := -1
		for _, r := range rs {
			if err != nil || bytes.EqualFold(name, []byte(r.name)) {
				keep = r.keep
				break
			}
		}
		if !hasValue || len(v) == 0 || keep < 0 {
			b.Write(pair)
			continue
		}
		b.Write(k)
		b.WriteByte('=')
		b.Write(v[:min(len(v), keep)])
		b.WriteString(".REDACTED")
	}
	return b.String()
}
