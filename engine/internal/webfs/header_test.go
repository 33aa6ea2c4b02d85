package webfs

import "testing"

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"", false},
		{"gzip", true},
		{"x-gzip", true},
		{" GZip ", true},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip;q=0.", false},
		{"gzip;q=0.001", true},
		{"gzip;q=1.000", true},
		{"gzip;q=1.001", false},
		{"gzip;q=0.0000", false},
		{"gzip ; q = 0", false},
		{"gzip;level=1;q=0", false},
		{"*", true},
		{"*;q=0", false},
		{"*;q=0.1, gzip;q=0", false},
		{"gzip;q=0, gzip", true}, // the best listed q wins
		{"identity", false},
		{"br", false},
		{",,gzip,,", true},
	}
	for _, tt := range tests {
		if got := acceptsGzip(tt.v); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v; want %v", tt.v, got, tt.want)
		}
	}
}

func TestETagMatch(t *testing.T) {
	const tag = `"0123456789abcdef"`
	tests := []struct {
		v    string
		want bool
	}{
		{tag, true},
		{"W/" + tag, true},
		{" " + tag + " ", true},
		{`"x", ` + tag, true},
		{`"x",W/` + tag, true},
		{`"a,b", ` + tag, true}, // a comma inside a tag
		{"*", true},
		{" * ", true},
		{`"0123456789abcdeF"`, false},
		{`"0123456789abcdef-gz"`, false},
		{`0123456789abcdef`, false},
		{`"x", garbage, ` + tag, false},
		{`"unterminated`, false},
		{"W/", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := etagMatch(tt.v, tag); got != tt.want {
			t.Errorf("etagMatch(%q, %s) = %v; want %v", tt.v, tag, got, tt.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		p         string
		name      string
		index, ok bool
	}{
		{"/", "index.html", true, true},
		{"/a.js", "a.js", false, true},
		{"/dir/", "dir/index.html", true, true},
		{"/dir", "dir", false, true},
		{"/a/b/c.css", "a/b/c.css", false, true},
		{"/a b/ü.txt", "a b/ü.txt", false, true},
		{"/..", "", false, false},
		{"/a/..", "", false, false},
		{"/a//b", "", false, false},
		{"//", "", false, false},
		{"/.well-known/x", "", false, false},
		{"/a\\b", "", false, false},
		{"/a\x00", "", false, false},
		{"a", "", false, false},
	}
	for _, tt := range tests {
		name, index, ok := cleanPath(tt.p)
		if name != tt.name || index != tt.index || ok != tt.ok {
			t.Errorf("cleanPath(%q) = %q, %v, %v; want %q, %v, %v", tt.p, name, index, ok, tt.name, tt.index, tt.ok)
		}
	}
}
