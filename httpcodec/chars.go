package httpcodec

// Byte classes, as 256-entry tables so the scanning loops cost one load per byte.
var (
	// isTchar: token characters (RFC 9110 §5.6.2), for methods and field names.
	isTchar = makeTable(func(c byte) bool {
		return isAlnum(c) || c != 0 && contains("!#$%&'*+-.^_`|~", c)
	})
	// isTargetChar: what a request-target may hold. RFC 3986 allows fewer
	// visible characters, but browsers send "{}|^`" unescaped in queries
	// (the WHATWG URL query percent-encode set), so we take every VCHAR
	// except '#', which never reaches a server (RFC 9112 §3.2). Non-ASCII
	// bytes are refused: RFC 3986 URIs are ASCII and browsers escape them.
	isTargetChar = makeTable(func(c byte) bool { return c > 0x20 && c < 0x7f && c != '#' })
	// isVersionChar: the characters of "HTTP/1.1"; the version is checked
	// whole once the line ends.
	isVersionChar = makeTable(func(c byte) bool { return isDigit(c) || contains("HTP/.", c) })
	// isValueChar: field-vchar / obs-text / SP / HTAB (RFC 9110 §5.5); no
	// other control, no DEL. Chunk extensions use the same class.
	isValueChar = makeTable(func(c byte) bool { return c == '\t' || c >= 0x20 && c != 0x7f })
	// isHostChar: the bytes net/http's server accepts in a Host value
	// (httpguts.ValidHostHeader): uri-host [":" port] characters, loosely.
	isHostChar = makeTable(func(c byte) bool { return isAlnum(c) || c != 0 && contains("!$%&'()*+,-.:;=[]_~", c) })
	// isRegNameChar: unreserved characters (RFC 3986 §2.3), for the host of
	// an absolute-form target.
	isRegNameChar = makeTable(func(c byte) bool { return isAlnum(c) || c != 0 && contains("-._~", c) })
	// unhex maps a hex digit to its value and anything else to 0xff.
	unhex = func() (t [256]byte) {
		for i := range t {
			c := byte(i)
			switch {
			case isDigit(c):
				t[i] = c - '0'
			case 'a' <= c && c <= 'f':
				t[i] = c - 'a' + 10
			case 'A' <= c && c <= 'F':
				t[i] = c - 'A' + 10
			default:
				t[i] = 0xff
			}
		}
		return t
	}()
)

func makeTable(f func(c byte) bool) (t [256]bool) {
	for i := range t {
		t[i] = f(byte(i))
	}
	return t
}

func contains(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
