package rooms

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Name limits.
const (
	// MaxNameLen is the longest display name, in runes (code points).
	MaxNameLen = 24
	// MaxMarks bounds consecutive combining marks in names and chat, enough
	// for real scripts (Devanagari, Vietnamese, decomposed accents) and
	// emoji (a keycap is two) but not for "Zalgo" text that overflows its
	// line.
	MaxMarks = 3
)

// ValidateName checks a display name and returns it trimmed of surrounding
// white space. A valid name has 1 to MaxNameLen runes, each a letter, a digit,
// a space, or one of _ - . ' ; combining marks may follow a letter (at most
// three in a row). It has no double spaces and no control, format or
// otherwise invisible runes (Unicode's Default_Ignorable_Code_Point, such as
// zero-width joiners, bidi overrides and the Hangul fillers). Names are not
// normalized: "é" precomposed and "e"+U+0301 are different names.
//
// A refusal wraps ErrInvalidName and says why without quoting the input.
// Safe for concurrent use.
func ValidateName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	s := strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	case n > MaxNameLen:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLen)
	}
	var prev rune
	marks := 0
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "", fmt.Errorf("%w: contains a control character", ErrInvalidName)
		case Invisible(r) || unicode.Is(unicode.Variation_Selector, r):
			return "", fmt.Errorf("%w: contains an invisible or formatting character", ErrInvalidName)
		case r == ' ':
			if prev == ' ' {
				return "", fmt.Errorf("%w: contains two spaces in a row", ErrInvalidName)
			}
		case r == '_' || r == '-' || r == '.' || r == '\'':
		case unicode.IsLetter(r) || unicode.IsDigit(r):
		case unicode.Is(unicode.M, r):
			if marks == 0 && !unicode.IsLetter(prev) {
				return "", fmt.Errorf("%w: combining mark not after a letter", ErrInvalidName)
			}
			if marks++; marks > MaxMarks {
				return "", fmt.Errorf("%w: too many combining marks", ErrInvalidName)
			}
			prev = r
			continue
		default:
			return "", fmt.Errorf("%w: only letters, digits, spaces and _ - . ' are allowed", ErrInvalidName)
		}
		marks = 0
		prev = r
	}
	return s, nil
}

// Invisible reports whether r is drawn as nothing, or changes how the text
// around it is drawn: a control character; a format character (Unicode
// Cf: the bidi embeddings, overrides and isolates U+202A–U+202E and
// U+2066–U+2069, the zero-width space, joiners and word joiner
// U+200B–U+200D and U+2060, the byte order mark U+FEFF, the tag
// characters...); another default-ignorable code point (the Hangul
// fillers, the combining grapheme joiner...); a private-use or surrogate
// code point. Text one player shows others (names, the lobby's chat) must
// not contain them: they forge look-alike names, hide text, or reorder what
// follows them on the reader's screen. Names refuse variation selectors
// too; chat allows them, as emoji need them (❤️ is U+2764 U+FE0F), and
// counts them with the combining marks (MaxMarks). Safe for concurrent use.
func Invisible(r rune) bool {
	if r < utf8.RuneSelf { // ASCII: only the controls (chat is mostly ASCII)
		return unicode.IsControl(r)
	}
	return unicode.IsControl(r) ||
		unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Co, unicode.Cs)
}

// AuthRequest is what an Authenticator sees of a player's request to enter
// (the lobby's "hello").
type AuthRequest struct {
	// Name is the display name the client asked for, unvalidated.
	Name string
	// Fields are the request's fields (the lobby's action fields).
	Fields map[string]string
	// RemoteAddr is the client's address as the engine saw it.
	RemoteAddr string
	// Header holds request headers the engine copied (Cookie,
	// Authorization...). It is the Authenticator's own copy.
	Header http.Header
}

// Identity is who a player is: a stable public id and a display name.
type Identity struct {
	PlayerID string `json:"id"`
	Name     string `json:"name"`
}

// Authenticator turns a request into a player identity, or refuses it. The
// lobby calls it on its own goroutines, never on an event loop, with a
// deadline in ctx; it may block (a database, an OAuth introspection) within
// that deadline. A refusal should wrap ErrAuthRefused; the error's text is
// sent to the client, so it must not leak secrets. The returned name is
// checked with ValidateName.
type Authenticator interface {
	Authenticate(ctx context.Context, r AuthRequest) (Identity, error)
}

// AuthFunc adapts a function to an Authenticator, as http.HandlerFunc does.
type AuthFunc func(ctx context.Context, r AuthRequest) (Identity, error)

// Authenticate calls f.
func (f AuthFunc) Authenticate(ctx context.Context, r AuthRequest) (Identity, error) {
	return f(ctx, r)
}

// Guest is the default Authenticator: anyone may enter under a valid name,
// with a fresh random PlayerID (so a guest who comes back is a new player,
// unless it presents a reconnection token).
var Guest Authenticator = AuthFunc(func(_ context.Context, r AuthRequest) (Identity, error) {
	name, err := ValidateName(r.Name)
	if err != nil {
		return Identity{}, err
	}
	return Identity{PlayerID: "g-" + RandomID(), Name: name}, nil
})

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// RandomID returns 16 lowercase letters and digits carrying 80 random bits
// from crypto/rand. Safe for concurrent use.
func RandomID() string { return randomString(10) }

// randomString returns n random bytes encoded in lowercase base32.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error (Go 1.24)
	return idEncoding.EncodeToString(b)
}
