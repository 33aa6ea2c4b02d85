package comet

import (
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Format is the encoding of a session's events on the wire.
type Format uint8

// Formats. The first three are Pushlet 2.0.4's; json and sse are ours.
const (
	FormatJS        Format = iota // "js": HTML with one <script>parent.push(...)</script> per event (iframe client)
	FormatXML                     // "xml": bare <event .../> elements, concatenated (Java client)
	FormatXMLStrict               // "xml-strict": one <pushlet>...</pushlet> document per response (AJAX client)
	FormatJSON                    // "json": one JSON array per response; NDJSON lines on a stream
	FormatSSE                     // "sse": text/event-stream, id = sequence number (EventSource)
	numFormats
)

var formatNames = [numFormats]string{"js", "xml", "xml-strict", "json", "sse"}

func (f Format) String() string {
	if f < numFormats {
		return formatNames[f]
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, bool) {
	for i, n := range formatNames {
		if n == s {
			return Format(i), true
		}
	}
	return 0, false
}

// contentType is sent for every response in the format. Pushlet's clients
// parse xml-strict as XML (text/xml) and render js in an iframe (text/html).
func (f Format) contentType(stream bool) string {
	switch f {
	case FormatXMLStrict:
		return "text/xml;charset=UTF-8"
	case FormatXML:
		return "text/plain;charset=UTF-8"
	case FormatJSON:
		if stream {
			return "application/x-ndjson;charset=UTF-8"
		}
		return "application/json;charset=UTF-8"
	case FormatSSE:
		return "text/event-stream;charset=UTF-8"
	default:
		return "text/html;charset=UTF-8"
	}
}

// The Content-Security-Policy of Comet responses. They matter when a
// response is a document: the js format is one (the iframe transport's
// forever-frame, Pushlet's listen and control frames), and any other answer
// becomes one when a browser is sent to its URL. A js document is made of
// the server's own inline script elements, written per event (a nonce or a
// hash cannot name them: an event's encoding is shared by every recipient),
// so it may run inline script and nothing else: no script file, no eval, no
// request of any kind, no plugin, no <base>, no form. What keeps other
// script out of it is the escaping of every value (appendJSString). Every
// other answer, and the 400 page, may run nothing at all.
const (
	cometDocCSP  = "default-src 'none'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
	cometDataCSP = "default-src 'none'"
)

// policy returns the Content-Security-Policy of responses in format f.
func (f Format) policy() string {
	if f == FormatJS {
		return cometDocCSP
	}
	return cometDataCSP
}

// Field is one name/value pair of an Event.
type Field struct {
	Name, Value string
}

// Event is an immutable Pushlet event: an ordered list of fields, the first
// being p_event. Published or sent, it is encoded once into the hub's
// history (as a record of its fields, held in pointer-free slabs: see
// internal/history) and the Event itself is let go; each recipient's data
// channel writes it from the record, with only p_seq, p_sid and p_label
// written per recipient.
type Event struct {
	fields []Field
	size   int // approximate encoded size (names, values, punctuation), for pacing
}

// NewEvent returns an event of type name (the p_event value) carrying
// p_time and the given fields, as name, value pairs. It panics on an odd
// number of strings.
func NewEvent(name string, kv ...string) *Event {
	if len(kv)%2 != 0 {
		panic("comet: NewEvent needs name, value pairs")
	}
	e, fs := allocEvent(2 + len(kv)/2)
	fs = append(fs, Field{"p_event", name}, Field{"p_time", unixTime()})
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, Field{kv[i], kv[i+1]})
	}
	e.setFields(fs)
	return e
}

// smallEvent is an Event with room for its fields in the same allocation.
type smallEvent struct {
	Event
	buf [5]Field
}

// allocEvent returns a new Event and an empty slice for its n fields, in
// one allocation when n is small (acks, room events), for setFields.
func allocEvent(n int) (*Event, []Field) {
	if n <= len(smallEvent{}.buf) {
		se := new(smallEvent)
		return &se.Event, se.buf[:0:n]
	}
	return new(Event), make([]Field, 0, n)
}

// oneShot is NewEvent for an event the server writes once and keeps no
// history of (acks, refresh, hb, gap, abort).
func oneShot(name string, kv ...string) *Event { return NewEvent(name, kv...) }

// plainEvent is an event of no fields but p_event and p_time, built once per
// second (per unixTime's text) and shared by every answer that writes it in
// that second (writing an event never changes it).
type plainEvent struct {
	at string // its p_time
	ev *Event
}

// The plain events of every move and refresh.
var publishAck, refreshAck, heartbeat atomic.Pointer[plainEvent]

// plain returns the event name of this second, held in p.
func plain(p *atomic.Pointer[plainEvent], name string) *Event {
	at := unixTime()
	if t := p.Load(); t != nil && t.at == at {
		return t.ev
	}
	e, fs := allocEvent(2)
	e.setFields(append(fs, Field{"p_event", name}, Field{"p_time", at}))
	p.Store(&plainEvent{at: at, ev: e})
	return e
}

func newEventFields(fs []Field) *Event {
	e := new(Event)
	e.setFields(fs)
	return e
}

func (e *Event) setFields(fs []Field) {
	e.fields, e.size = fs, eventSize(fs)
}

// eventSize is the approximate encoded size of an event of these fields:
// what it counts for in pacing a data channel and in the history limits.
func eventSize(fs []Field) int {
	n := 32
	for _, f := range fs {
		n += len(f.Name) + len(f.Value) + 8
	}
	return n
}

// Name returns the event's p_event.
func (e *Event) Name() string { return e.Get("p_event") }

// Get returns the value of the named field ("" if absent).
func (e *Event) Get(name string) string {
	for _, f := range e.fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Fields returns a copy of the event's fields.
func (e *Event) Fields() []Field { return append([]Field(nil), e.fields...) }

// unixTime is Pushlet's p_time: seconds since 1970.
// The text is made once per second and shared by the events of that second.
func unixTime() string {
	now := time.Now().Unix()
	if t := lastUnixTime.Load(); t != nil && t.sec == now {
		return t.text
	}
	t := &unixText{sec: now, text: strconv.FormatInt(now, 10)}
	lastUnixTime.Store(t)
	return t.text
}

type unixText struct {
	sec  int64
	text string
}

var lastUnixTime atomic.Pointer[unixText]

// recipient holds the fields written per recipient of a shared event.
type recipient struct {
	seq     uint64
	withSeq bool // write p_seq (hb carries the last seq, which may be 0)
	sid     string
	label   string
}

// family is the format whose field encoding f shares: sse writes json's,
// xml-strict xml's.
func family(f Format) Format {
	switch f {
	case FormatSSE:
		return FormatJSON
	case FormatXMLStrict:
		return FormatXML
	}
	return f
}

// appendFields appends the encoding of fs in format f's family.
func appendFields(b []byte, f Format, fs []Field) []byte {
	f = family(f)
	for i, fd := range fs {
		b = appendField(b, f, fd.Name, fd.Value, i == 0)
	}
	return b
}

// appendField appends one name/value pair in format f. first says whether it
// is the first pair of its event (js and json separate pairs with commas).
func appendField(b []byte, f Format, name, value string, first bool) []byte {
	switch f {
	case FormatJS:
		if !first {
			b = append(b, ',')
		}
		b = append(b, '\'')
		b = appendJSString(b, name, '\'')
		b = append(b, "', \""...)
		b = appendJSString(b, value, '"')
		return append(b, '"')
	case FormatJSON, FormatSSE:
		if !first {
			b = append(b, ',')
		}
		b = appendJSONString(b, name)
		b = append(b, ':')
		return appendJSONString(b, value)
	default: // xml, xml-strict: name="value" followed by a space, as Pushlet writes
		b = append(b, name...)
		b = append(b, '=', '"')
		b = appendXMLEscaped(b, value)
		return append(b, '"', ' ')
	}
}

// appendRecipient appends the per-recipient fields. They come before the
// shared ones, so in js and json each is followed by a comma.
func appendRecipient(b []byte, f Format, r *recipient) []byte {
	if r == nil {
		return b
	}
	var num [20]byte
	if r.withSeq {
		b = appendField(b, f, "p_seq", string(strconv.AppendUint(num[:0], r.seq, 10)), true)
		b = recipientSep(b, f)
	}
	if r.sid != "" {
		b = appendField(b, f, "p_sid", r.sid, true)
		b = recipientSep(b, f)
	}
	if r.label != "" {
		b = appendField(b, f, "p_label", r.label, true)
		b = recipientSep(b, f)
	}
	return b
}

func recipientSep(b []byte, f Format) []byte {
	if f == FormatJS || f == FormatJSON || f == FormatSSE {
		return append(b, ',')
	}
	return b
}

// appendEvent appends one event as it appears on the wire in format f, for
// a recipient (nil for control responses). For json it is one object; the
// caller separates objects (commas in an array, newlines on a stream).
func appendEvent(b []byte, f Format, e *Event, r *recipient) []byte {
	b = frameStart(b, f, r, e.Name() == "hb")
	b = appendFields(b, f, e.fields)
	return frameEnd(b, f)
}

// appendEncoded is appendEvent for an event whose fields are already
// encoded in f's family (shared by its recipients).
func appendEncoded(b []byte, f Format, shared []byte, r *recipient) []byte {
	b = frameStart(b, f, r, false)
	b = append(b, shared...)
	return frameEnd(b, f)
}

// frameStart appends what comes before an event's own fields: the frame's
// opening and the per-recipient fields. hb says the event is a heartbeat,
// which an SSE stream writes without an id (it repeats the last one).
func frameStart(b []byte, f Format, r *recipient, hb bool) []byte {
	switch f {
	case FormatJS:
		b = append(b, `<script language="JavaScript">parent.push(`...)
	case FormatJSON:
		b = append(b, '{')
	case FormatSSE:
		if r != nil && r.withSeq && r.seq != 0 && !hb {
			b = append(b, "id: "...)
			b = strconv.AppendUint(b, r.seq, 10)
			b = append(b, '\n')
		}
		b = append(b, "data: {"...)
	default:
		b = append(b, "<event "...)
	}
	return appendRecipient(b, family(f), r)
}

// frameEnd closes an event's frame.
func frameEnd(b []byte, f Format) []byte {
	switch f {
	case FormatJS:
		return append(b, ");</script>"...)
	case FormatJSON:
		return append(b, '}')
	case FormatSSE:
		return append(b, "}\n\n"...)
	default:
		return append(b, "/>"...)
	}
}

// jsStartDocument begins every js response (BrowserAdapter.START_DOCUMENT):
// it defines refresh(), which a pull response's last script calls.
const jsStartDocument = "<html><head><meta http-equiv=\"Pragma\" content=\"no-cache\"><meta http-equiv=\"Expires\" content=\"Tue, 31 Dec 1997 23:59:59 GMT\"></head><body>\n<script language=\"JavaScript\"> var url=\" \"; \nfunction refresh() { document.location.href=url; }</script>"

// responseStart is written at the start of every response in format f.
func responseStart(b []byte, f Format, stream bool) []byte {
	switch f {
	case FormatXMLStrict:
		return append(b, "<pushlet>"...)
	case FormatJS:
		return append(b, jsStartDocument...)
	case FormatJSON:
		if !stream {
			return append(b, '[')
		}
	case FormatSSE:
		return append(b, "retry: 2000\n\n"...)
	}
	return b
}

// eventSep is written between two events of one response.
func eventSep(b []byte, f Format, stream bool) []byte {
	if f == FormatJSON {
		if stream {
			return append(b, '\n')
		}
		return append(b, ',')
	}
	return b
}

// responseEnd closes a response. controlJS says the js response was a
// control response, which Pushlet ends without </body></html>.
func responseEnd(b []byte, f Format, stream, controlJS bool) []byte {
	switch f {
	case FormatXMLStrict:
		return append(b, "</pushlet>"...)
	case FormatJS:
		if controlJS {
			return b
		}
		return append(b, "</body></html>"...)
	case FormatJSON:
		if stream {
			return append(b, '\n')
		}
		return append(b, ']')
	}
	return b
}

// appendJSRefresh appends the script that ends a js pull response: the
// iframe navigates to url after wait milliseconds. Pushlet passes
// setTimeout the string "refresh()", which is an eval; the function itself
// does the same without one, so the document's policy forbids eval.
func appendJSRefresh(b []byte, url string, wait int) []byte {
	b = append(b, "\n<script language=\"JavaScript\">url='"...)
	b = appendJSString(b, url, '\'')
	b = append(b, "';\n setTimeout(refresh, "...)
	b = strconv.AppendInt(b, int64(wait), 10)
	return append(b, ");\n</script>"...)
}

// appendXMLEscaped escapes a value as Pushlet's Sys.forHTMLTag does, which
// is also valid in an XML attribute. Invalid UTF-8 becomes U+FFFD, and
// control characters XML 1.0 forbids are written as U+FFFD too.
func appendXMLEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '<':
				b = append(b, "&lt;"...)
			case '>':
				b = append(b, "&gt;"...)
			case '"':
				b = append(b, "&quot;"...)
			case '\'':
				b = append(b, "&#039;"...)
			case '\\':
				b = append(b, "&#092;"...)
			case '&':
				b = append(b, "&amp;"...)
			case '\t', '\n', '\r':
				b = append(b, "&#"...)
				b = strconv.AppendInt(b, int64(c), 10)
				b = append(b, ';')
			default:
				if c < 0x20 || c == 0x7f {
					b = append(b, "\uFFFD"...)
				} else {
					b = append(b, c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == 0xFFFE || r == 0xFFFF {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// appendJSString escapes s for a JavaScript string literal delimited by
// quote that sits inside an HTML <script> element: "</script>" and "<!--"
// cannot appear (every '<' is \x3C), nor can a line terminator.
func appendJSString(b []byte, s string, quote byte) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == quote || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '<' || c == '>' || c == '&' || c < 0x20 || c == 0x7f || c == '"' || c == '\'':
				b = append(b, '\\', 'x', hex[c>>4], hex[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\uFFFD`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// jsonSafe marks the ASCII bytes appendJSONString writes as they are.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// '<', '>' and '&' are escaped so the output is safe inside HTML too.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		start := i
		for i < len(s) && jsonSafe[s[i]] {
			i++
		}
		b = append(b, s[start:i]...) // the run that needs no escaping, at once
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default: // other controls, <, >, &, DEL
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
