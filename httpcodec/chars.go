package httpcodec

import (
	"encoding/binary"
	"math/bits"
)

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

// Word-at-a-time scanning for the long runs (targets, field values). Each
// test below is exact for "does any byte of the word qualify": a borrow or
// carry can only spill into a higher byte after a lower byte has qualified.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasLess reports whether any byte of w is < n (n <= 128).
func hasLess(w, n uint64) uint64 { return (w - lsb*n) &^ w & msb }

// hasByte reports whether any byte of w equals c.
func hasByte(w, c uint64) uint64 { return hasLess(w^(lsb*c), 1) }

// scanValue returns the index of the first byte of b at or after i that
// isValueChar rejects, or len(b).
func scanValue(b []byte, i int) int {
	for i+16 <= len(b) { // two words per round while no byte is flagged
		w, x := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
		if hasLess(w, 0x20)|hasByte(w, 0x7f)|hasLess(x, 0x20)|hasByte(x, 0x7f) != 0 {
			break
		}
		i += 16
	}
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		m := hasLess(w, 0x20) | hasByte(w, 0x7f) // any CTL (HTAB included) or DEL
		if m == 0 {
			i += 8
			continue
		}
		// The lowest flagged byte is exact; only HTAB lets the value go on.
		i += bits.TrailingZeros64(m) >> 3
		if b[i] != '\t' {
			return i
		}
		i++
	}
	for i < len(b) && isValueChar[b[i]] {
		i++
	}
	return i
}

// scanTarget returns the index of the first byte of b at or after i that
// isTargetChar rejects, or len(b).
func scanTarget(b []byte, i int) int {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := hasLess(w, 0x21) | w&msb | hasByte(w, 0x7f) | hasByte(w, '#'); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && isTargetChar[b[i]] {
		i++
	}
	return i
}

// scanTchar returns the index of the first non-token byte of b at or after i,
// or len(b).
func scanTchar(b []byte, i int) int {
	for i < len(b) && isTchar[b[i]] {
		i++
	}
	return i
}

// The versions we serve as little-endian words, for scanVersion's fast path.
var (
	http10 = binary.LittleEndian.Uint64([]byte("HTTP/1.0"))
	http11 = binary.LittleEndian.Uint64([]byte("HTTP/1.1"))
)

// scanVersion returns the index of the first byte of b at or after i that
// cannot continue "HTTP/1.0" or "HTTP/1.1" begun at b[start], or len(b).
// It stops at the byte after the version.
func scanVersion(b []byte, start, i int) int {
	const v = "HTTP/1.1"
	if i == start && len(b)-start >= len(v) { // the whole version at once: one word
		if w := binary.LittleEndian.Uint64(b[start:]); w == http11 || w == http10 {
			return start + len(v)
		}
	}
	for i < len(b) && i-start < len(v) && (b[i] == v[i-start] || i-start == len(v)-1 && b[i] == '0') {
		i++
	}
	return i
}

// scanOWS returns the index of the first byte of b at or after i that is
// neither SP nor HTAB (RFC 9110 §5.6.3), or len(b).
func scanOWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// trimOWSRight returns the end of b[lo:hi] without its trailing SP and HTAB.
func trimOWSRight(b []byte, lo, hi int) int {
	for hi > lo && (b[hi-1] == ' ' || b[hi-1] == '\t') {
		hi--
	}
	return hi
}
