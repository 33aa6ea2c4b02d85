package comet

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cometplay/cometplay/internal/history"
)

// FuzzAppendJSONString: the output is one valid JSON string holding the
// input (each invalid UTF-8 byte as U+FFFD), with nothing an HTML or
// JavaScript context could take for markup or a line end.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `{"cell":4,"seq":2}`, "a\"b\\c", "\n\r\t\x00\x1f\x7f", "</script><!--&amp;",
		"é中😀", "\u2028\u2029", "\xff\xfe", "ok\xc3", "\xe2\x80", strings.Repeat("x", 300) + "<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString([]byte("prefix"), s)
		if !strings.HasPrefix(string(b), "prefix") {
			t.Fatalf("prefix lost: %q", b)
		}
		out := b[len("prefix"):]
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q → %q: not a JSON string: %v", s, out, err)
		}
		var want strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			want.WriteRune(r) // RuneError for an invalid byte
			i += size
		}
		if got != want.String() {
			t.Fatalf("%q → %q decodes to %q; want %q", s, out, got, want.String())
		}
		if i := strings.IndexAny(string(out), "<>&\u2028\u2029\x7f"); i >= 0 {
			t.Fatalf("%q → %q: unescaped %q", s, out, out[i])
		}
		for _, c := range out {
			if c < 0x20 {
				t.Fatalf("%q → %q: raw control byte %#x", s, out, c)
			}
		}
	})
}

func BenchmarkAppendJSONString(b *testing.B) {
	s := `{"player":{"id":"g-3f9a1c2b7d","name":"Ann","seat":0},"cell":4,"seq":7,"board":["X","","O","","X","","","",""]}`
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendJSONString(buf[:0], s)
	}
}

func BenchmarkNewEvent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = NewEvent("refresh", "p_wait", "1000", "p_url", "/comet?p_id=x&p_event=refresh")
	}
}

// TestEncCacheEncodesOncePerEvent: a loop encodes an event once per format
// family and writes it from the cache for every further recipient; another
// family, or another event in the same slot, is encoded anew; what it
// writes is what encoding the event's fields gives.
func TestEncCacheEncodesOncePerEvent(t *testing.T) {
	fs := []Field{{"p_event", "data"}, {"p_subject", "/a"}, {"k", "v<\"&"}}
	rec := record(nil, fs)
	var c encCache
	const ref = history.Ref(7 << 32)
	for _, f := range []Format{FormatJSON, FormatSSE, FormatJS, FormatXML, FormatXMLStrict} {
		got := c.encoded(ref, rec, f)
		if want := appendFields(nil, f, fs); string(got) != string(want) {
			t.Fatalf("%s: %q; want %q", f, got, want)
		}
	}
	first := c.encoded(ref, rec, FormatJSON)
	again := c.encoded(ref, rec, FormatSSE) // sse writes json's encoding
	if &first[0] != &again[0] {
		t.Error("the same event and family was encoded again")
	}
	other := record(nil, []Field{{"p_event", "data"}, {"k", "w"}})
	if got := string(c.encoded(ref+1, other, FormatJSON)); got != `"p_event":"data","k":"w"` {
		t.Errorf("another event: %q", got)
	}
}
