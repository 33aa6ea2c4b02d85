package rooms_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cometplay/cometplay/rooms"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string // want "" = refused
	}{
		{"ascii", "Ann", "Ann"},
		{"trimmed", "  Ann \t", "Ann"},
		{"inner space", "Ann Lee", "Ann Lee"},
		{"punctuation", "O'Brien_jr.-2", "O'Brien_jr.-2"},
		{"accents", "Zoë Ångström", "Zoë Ångström"},
		{"decomposed accent", "Zoe\u0308", "Zoe\u0308"},
		{"han", "李小龍", "李小龍"},
		{"greek", "Ελένη", "Ελένη"},
		{"devanagari marks", "देवनागरी", "देवनागरी"},
		{"arabic digits", "لاعب ٣", "لاعب ٣"},
		{"24 runes", strings.Repeat("é", 24), strings.Repeat("é", 24)},
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"25 runes", strings.Repeat("a", 25), ""},
		{"double space", "Ann  Lee", ""},
		{"tab inside", "Ann\tLee", ""},
		{"newline", "Ann\nLee", ""},
		{"nul", "Ann\x00", ""},
		{"zero width space", "Ann\u200bLee", ""},
		{"zero width joiner", "A\u200dnn", ""},
		{"bidi override", "Ann\u202eeeL", ""},
		{"bom", "\ufeffAnn", ""},
		{"hangul filler", "\u3164", ""},
		{"halfwidth hangul filler", "A\uffa0", ""},
		{"combining grapheme joiner", "A\u034fnn", ""},
		{"variation selector", "A\ufe0fnn", ""},
		{"mark first", "\u0301Ann", ""},
		{"zalgo", "A\u0301\u0302\u0303\u0304", ""},
		{"no-break space", "Ann\u00a0Lee", ""},
		{"ideographic space", "Ann\u3000Lee", ""},
		{"symbol", "Ann!", ""},
		{"at", "a@b", ""},
		{"emoji", "Ann😀", ""},
		{"html", "<b>", ""},
		{"private use", "A\ue000", ""},
		{"invalid utf-8", "Ann\xff", ""},
	} {
		got, err := rooms.ValidateName(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: ValidateName(%q) = %q, nil; want an error", tc.name, tc.in, got)
		case tc.want == "" && !errors.Is(err, rooms.ErrInvalidName):
			t.Errorf("%s: ValidateName(%q) error = %v; want ErrInvalidName", tc.name, tc.in, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%s: ValidateName(%q) = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) && strings.TrimSpace(tc.in) != "" {
			t.Errorf("%s: error %q quotes the input", tc.name, err)
		}
	}
}

func TestGuest(t *testing.T) {
	a, err := rooms.Guest.Authenticate(context.Background(), rooms.AuthRequest{Name: " Ann "})
	if err != nil || a.Name != "Ann" || !strings.HasPrefix(a.PlayerID, "g-") {
		t.Fatalf("Guest = %+v, %v", a, err)
	}
	b, _ := rooms.Guest.Authenticate(context.Background(), rooms.AuthRequest{Name: "Ann"})
	if a.PlayerID == b.PlayerID {
		t.Error("two guests got the same id")
	}
	if _, err := rooms.Guest.Authenticate(context.Background(), rooms.AuthRequest{Name: "A\u200bnn"}); !errors.Is(err, rooms.ErrInvalidName) {
		t.Errorf("Guest(bad name) = %v; want ErrInvalidName", err)
	}
}
