package httpcodec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const typicalGET = "GET /play/room/42?since=17&sid=abc HTTP/1.1\r\n" +
	"Host: game.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
	"Accept: text/event-stream\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://game.example.com/play\r\n" +
	"Cookie: session=0123456789abcdef0123456789abcdef\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

var acceptCases = []struct {
	name string
	in   string
	want got
}{
	{
		name: "typical GET",
		in:   typicalGET,
		want: got{Method: "GET", Target: "/play/room/42?since=17&sid=abc", Path: "/play/room/42",
			RawPath: "/play/room/42", RawQuery: "since=17&sid=abc", HasQuery: true, Proto: "1.1",
			Headers: "Host: game.example.com\n" +
				"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\n" +
				"Accept: text/event-stream\nAccept-Language: en-US,en;q=0.5\nAccept-Encoding: gzip, deflate, br\n" +
				"Referer: https://game.example.com/play\nCookie: session=0123456789abcdef0123456789abcdef\n" +
				"Connection: keep-alive",
			Host: "game.example.com", HasHost: true, KeepAlive: true},
	},
	{
		name: "HTTP/1.0 without Host closes",
		in:   "GET / HTTP/1.0\r\n\r\n",
		want: got{Method: "GET", Target: "/", Path: "/", RawPath: "/", Proto: "1.0"},
	},
	{
		name: "HTTP/1.0 keep-alive token",
		in:   "GET / HTTP/1.0\r\nConnection: Upgrade, Keep-Alive\r\n\r\n",
		want: got{Method: "GET", Target: "/", Path: "/", RawPath: "/", Proto: "1.0",
			Headers: "Connection: Upgrade, Keep-Alive", KeepAlive: true},
	},
	{
		name: "HTTP/1.1 Connection close in second field",
		in:   "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nconnection: CLOSE\r\n\r\n",
		want: got{Method: "GET", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: h\nConnection: upgrade\nconnection: CLOSE", Host: "h", HasHost: true},
	},
	{
		name: "POST with Content-Length",
		in:   "POST /move HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n{\"cell\":4}\n",
		want: got{Method: "POST", Target: "/move", Path: "/move", RawPath: "/move", Proto: "1.1",
			Headers: "Host: h\nContent-Length: 11", Host: "h", HasHost: true, CL: 11,
			Body: "{\"cell\":4}\n", HasBody: true, KeepAlive: true},
	},
	{
		name: "Content-Length zero has no body",
		in:   "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
		want: got{Method: "POST", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: h\nContent-Length: 0", Host: "h", HasHost: true, KeepAlive: true},
	},
	{
		name: "identical duplicate Content-Length counts once",
		in:   "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\nContent-Length:007 \r\n\r\nabcdefg",
		want: got{Method: "POST", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: h\nContent-Length: 007\nContent-Length: 007", Host: "h", HasHost: true, CL: 7,
			Body: "abcdefg", HasBody: true, KeepAlive: true},
	},
	{
		name: "chunked with extensions and trailer",
		in: "POST /chat HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5;name=\"quoted; value\";x\r\nhello\r\n" + "000B\r\n, dear game\r\n" + "0;last\r\nX-Sum: 42\r\n\r\n",
		want: got{Method: "POST", Target: "/chat", Path: "/chat", RawPath: "/chat", Proto: "1.1",
			Headers: "Host: h\nTransfer-Encoding: Chunked\nTrailer: X-Sum", Host: "h", HasHost: true, CL: -1,
			Chunked: true, Body: "hello, dear game", HasBody: true, KeepAlive: true},
	},
	{
		name: "chunk size of 16 digits and trailing whitespace",
		in:   "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000003 \t\r\nabc\r\n0\r\n\r\n",
		want: got{Method: "POST", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: h\nTransfer-Encoding: chunked", Host: "h", HasHost: true, CL: -1,
			Chunked: true, Body: "abc", HasBody: true, KeepAlive: true},
	},
	{
		name: "empty chunked body",
		in:   "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		want: got{Method: "POST", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: h\nTransfer-Encoding: chunked", Host: "h", HasHost: true, CL: -1,
			Chunked: true, KeepAlive: true},
	},
	{
		name: "percent-decoded path, raw query",
		in:   "GET /a%20b/c%2Fd+e?q=x%20y+z&%zz HTTP/1.1\r\nHost: h\r\n\r\n",
		want: got{Method: "GET", Target: "/a%20b/c%2Fd+e?q=x%20y+z&%zz", Path: "/a b/c/d+e",
			RawPath: "/a%20b/c%2Fd+e", RawQuery: "q=x%20y+z&%zz", HasQuery: true, Proto: "1.1",
			Headers: "Host: h", Host: "h", HasHost: true, KeepAlive: true},
	},
	{
		name: "empty query is not nil",
		in:   "GET /? HTTP/1.1\r\nHost: h\r\n\r\n",
		want: got{Method: "GET", Target: "/?", Path: "/", RawPath: "/", HasQuery: true, Proto: "1.1",
			Headers: "Host: h", Host: "h", HasHost: true, KeepAlive: true},
	},
	{
		name: "browser characters in query",
		in:   "GET /q?a={\"b\":[1|2]}^`x` HTTP/1.1\r\nHost: h\r\n\r\n",
		want: got{Method: "GET", Target: "/q?a={\"b\":[1|2]}^`x`", Path: "/q", RawPath: "/q",
			RawQuery: "a={\"b\":[1|2]}^`x`", HasQuery: true, Proto: "1.1",
			Headers: "Host: h", Host: "h", HasHost: true, KeepAlive: true},
	},
	{
		name: "OPTIONS asterisk-form",
		in:   "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		want: got{Method: "OPTIONS", Target: "*", Path: "*", RawPath: "*", Proto: "1.1",
			Headers: "Host: h", Host: "h", HasHost: true, KeepAlive: true},
	},
	{
		name: "absolute-form keeps the Host field",
		in:   "GET HTTP://Example.com:8080/a%41?q HTTP/1.1\r\nHost: other\r\n\r\n",
		want: got{Method: "GET", Target: "HTTP://Example.com:8080/a%41?q", Path: "/aA", RawPath: "/a%41",
			RawQuery: "q", HasQuery: true, Proto: "1.1", Headers: "Host: other", Host: "other", HasHost: true,
			KeepAlive: true},
	},
	{
		name: "absolute-form without path",
		in:   "GET https://[::1]:443?x HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
		want: got{Method: "GET", Target: "https://[::1]:443?x", Path: "/", RawPath: "", RawQuery: "x",
			HasQuery: true, Proto: "1.1", Headers: "Host: [::1]:443", Host: "[::1]:443", HasHost: true,
			KeepAlive: true},
	},
	{
		name: "OWS trimmed, empty and obs-text values kept",
		in:   "GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a \t b \t\r\nX-Empty:\r\nX-Blank:   \r\nX-Obs: caf\xc3\xa9\r\n\r\n",
		want: got{Method: "GET", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: h\nX-A: a \t b\nX-Empty: \nX-Blank: \nX-Obs: caf\xc3\xa9", Host: "h", HasHost: true,
			KeepAlive: true},
	},
	{
		name: "empty Host is valid",
		in:   "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		want: got{Method: "GET", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: ", HasHost: true, KeepAlive: true},
	},
	{
		name: "Expect 100-continue on HTTP/1.1",
		in:   "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nz",
		want: got{Method: "PUT", Target: "/x", Path: "/x", RawPath: "/x", Proto: "1.1",
			Headers: "Host: h\nExpect: 100-Continue\nContent-Length: 1", Host: "h", HasHost: true, CL: 1,
			Body: "z", HasBody: true, KeepAlive: true, Expect100: true},
	},
	{
		name: "Expect 100-continue ignored on HTTP/1.0",
		in:   "PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
		want: got{Method: "PUT", Target: "/x", Path: "/x", RawPath: "/x", Proto: "1.0",
			Headers: "Expect: 100-continue"},
	},
	{
		name: "empty lines before the request line are ignored",
		in:   "\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
		want: got{Method: "GET", Target: "/x", Path: "/x", RawPath: "/x", Proto: "1.1",
			Headers: "Host: h", Host: "h", HasHost: true, KeepAlive: true},
	},
	{
		name: "MaxEmptyLines empty lines before a POST",
		in:   strings.Repeat("\r\n", MaxEmptyLines) + "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
		want: got{Method: "POST", Target: "/", Path: "/", RawPath: "/", Proto: "1.1",
			Headers: "Host: h\nContent-Length: 2", Host: "h", HasHost: true, CL: 2,
			Body: "hi", HasBody: true, KeepAlive: true},
	},
	{
		name: "extension method and token characters in names",
		in:   "M-SEARCH! /x HTTP/1.1\r\nHost: h\r\nX!#$%&'*+-.^_`|~: v\r\n\r\n",
		want: got{Method: "M-SEARCH!", Target: "/x", Path: "/x", RawPath: "/x", Proto: "1.1",
			Headers: "Host: h\nX!#$%&'*+-.^_`|~: v", Host: "h", HasHost: true, KeepAlive: true},
	},
}

var rejectCases = []struct {
	name   string
	in     string
	limits Limits
	want   error
}{
	{"empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"one empty line too many", strings.Repeat("\r\n", MaxEmptyLines+1) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"bare LF as empty line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"bare CR as empty line", "\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"empty line then a space", "\r\n / HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"non-token method", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"two spaces after method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"tab as separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"no version", "GET /\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"two-digit minor", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"space after version", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", Limits{}, ErrUnsupportedVersion},
	{"unsupported major version, line not ended", "GET / HTTP/5.6", Limits{}, ErrUnsupportedVersion},
	{"unsupported major version, malformed", "GET / HTTP/5.66\r\nHost: h\r\n\r\n", Limits{}, ErrUnsupportedVersion},
	{"unsupported minor version, line not ended", "GET / HTTP/1.2", Limits{}, ErrUnsupportedVersion},
	{"malformed version, line not ended", "GET / HTTP/1,1", Limits{}, ErrBadRequest},
	{"not HTTP, line not ended", "GET / HTTQ", Limits{}, ErrBadRequest},
	{"unsupported version before a bad target", "GET * HTTP/3", Limits{}, ErrUnsupportedVersion},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", Limits{}, ErrUnsupportedVersion},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", Limits{}, ErrUnsupportedVersion},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Limits{}, ErrUnsupportedVersion},
	{"bare LF ends request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"bare LF ends field line", "GET / HTTP/1.1\r\nHost: h\n\r\n", Limits{}, ErrBadRequest},
	{"bare LF ends head", "GET / HTTP/1.1\r\nHost: h\r\n\n", Limits{}, ErrBadRequest},
	{"bare CR in request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"bare CR in target", "GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", Limits{}, ErrBadRequest},
	{"bare CR in name", "GET / HTTP/1.1\r\nHost: h\r\nX\r: a\r\n\r\n", Limits{}, ErrBadRequest},
	{"bare CR ends head", "GET / HTTP/1.1\r\nHost: h\r\n\rX", Limits{}, ErrBadRequest},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", Limits{}, ErrBadRequest},
	{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", Limits{}, ErrBadRequest},
	{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", Limits{}, ErrBadRequest},
	{"tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", Limits{}, ErrBadRequest},
	{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", Limits{}, ErrBadRequest},
	{"non-token name", "GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", Limits{}, ErrBadRequest},
	{"non-ASCII name", "GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n", Limits{}, ErrBadRequest},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", Limits{}, ErrBadRequest},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", Limits{}, ErrBadRequest},
	{"control in value", "GET / HTTP/1.1\r\nHost: h\r\nX: \x01\r\n\r\n", Limits{}, ErrBadRequest},
	{"missing Host on 1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n", Limits{}, ErrMissingHost},
	{"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", Limits{}, ErrBadRequest},
	{"two Host fields on 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", Limits{}, ErrBadRequest},
	{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Limits{}, ErrBadRequest},
	{"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", Limits{}, ErrBadRequest},
	{"asterisk-form for GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"asterisk with more", "OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", Limits{}, ErrNotImplemented},
	{"CONNECT with a path", "CONNECT /rpc HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrNotImplemented},
	{"authority-form for GET", "GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"relative target", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"ftp scheme", "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"userinfo", "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"empty authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"bad port", "GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"IPv4 literal in brackets", "GET http://[1.2.3.4]/ HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"control in target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"invalid escape", "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"truncated escape", "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"NUL after decoding", "GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", Limits{}, ErrBadRequest},
	{"TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", Limits{}, ErrSmuggling},
	{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Limits{}, ErrSmuggling},
	{"CL and TE on 1.0", "POST / HTTP/1.0\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", Limits{}, ErrSmuggling},
	{"TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", Limits{}, ErrNotImplemented},
	{"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", Limits{}, ErrNotImplemented},
	{"TE chunked, gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Limits{}, ErrNotImplemented},
	{"TE chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Limits{}, ErrNotImplemented},
	{"TE identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", Limits{}, ErrNotImplemented},
	{"TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", Limits{}, ErrBadRequest},
	{"TE on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Limits{}, ErrBadRequest},
	{"Trailer announces Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nTrailer: X, content-length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Limits{}, ErrBadRequest},
	{"CL not numeric", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", Limits{}, ErrBadContentLength},
	{"CL negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", Limits{}, ErrBadContentLength},
	{"CL plus sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", Limits{}, ErrBadContentLength},
	{"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", Limits{}, ErrBadContentLength},
	{"CL inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n", Limits{}, ErrBadContentLength},
	{"CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", Limits{}, ErrBadContentLength},
	{"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", Limits{}, ErrBadContentLength},
	{"CL differing duplicates", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", Limits{}, ErrBadContentLength},
	{"CL duplicates differing in form", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nhello", Limits{}, ErrBadContentLength},
	{"CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", Limits{}, ErrBadContentLength},
	{"CL over body limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", Limits{}, ErrBodyTooLarge},
	{"CL over configured limit", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", Limits{MaxBodyBytes: 4}, ErrBodyTooLarge},
	{"chunk size not hex", chunkedHead + "x\r\n", Limits{}, ErrBadChunk},
	{"chunk size empty", chunkedHead + "\r\n", Limits{}, ErrBadChunk},
	{"chunk size of 17 digits", chunkedHead + "00000000000000001\r\nx\r\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"chunk size over body limit", chunkedHead + "ffffffffffffffff\r\n", Limits{}, ErrBodyTooLarge},
	{"chunk total over limit", chunkedHead + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", Limits{MaxBodyBytes: 4}, ErrBodyTooLarge},
	{"chunk size bare LF", chunkedHead + "3\nabc\r\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"chunk size bare CR", chunkedHead + "3\rabc\r\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"chunk data too long", chunkedHead + "3\r\nabcd\r\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"chunk data LF only", chunkedHead + "3\r\nabc\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"chunk data CR only", chunkedHead + "3\r\nabc\r0\r\n\r\n", Limits{}, ErrBadChunk},
	{"space before chunk extension", chunkedHead + "3 ;x\r\nabc\r\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"NUL in chunk extension", chunkedHead + "3;x\x00\r\nabc\r\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"chunk extensions over budget", chunkedHead + "1;" + strings.Repeat("x", 4095) + "\r\na\r\n0\r\n\r\n", Limits{}, ErrBadChunk},
	{"extensions over budget in total", chunkedHead + "1;" + strings.Repeat("x", 9) + "\r\na\r\n0;" + strings.Repeat("y", 9) + "\r\n\r\n", Limits{MaxChunkExtBytes: 16}, ErrBadChunk},
	{"trailer over budget", chunkedHead + "0\r\nX: " + strings.Repeat("y", 4096) + "\r\n\r\n", Limits{}, ErrBadChunk},
	{"trailer obs-fold", chunkedHead + "0\r\nX: a\r\n b\r\n\r\n", Limits{}, ErrBadChunk},
	{"trailer bare LF", chunkedHead + "0\r\nX: a\n\r\n", Limits{}, ErrBadChunk},
	{"trailer space before colon", chunkedHead + "0\r\nX : a\r\n\r\n", Limits{}, ErrBadChunk},
	{"trailer missing blank line CRLF", chunkedHead + "0\r\n\rX", Limits{}, ErrBadChunk},
	{"request line over limit", "GET /" + strings.Repeat("a", 30) + " HTTP/1.1\r\nHost: h\r\n\r\n", Limits{MaxRequestLine: 32}, ErrRequestLineTooLong},
	{"request line over default limit", "GET /" + strings.Repeat("a", DefaultMaxRequestLine) + " HTTP/1.1\r\n", Limits{}, ErrRequestLineTooLong},
	{"head over limit", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", 64) + "\r\n\r\n", Limits{MaxHeadBytes: 64}, ErrHeaderTooLarge},
	{"head limit below line limit", "GET /" + strings.Repeat("a", 64) + " HTTP/1.1\r\n", Limits{MaxHeadBytes: 40}, ErrHeaderTooLarge},
	{"too many fields", "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", Limits{MaxHeaders: 2}, ErrTooManyHeaders},
}

const chunkedHead = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

func TestParseAccepted(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewParser(Limits{})
			n, r, err := p.Parse([]byte(tc.in))
			if err != nil || r == nil {
				t.Fatalf("Parse(%q) = %d, %v, %v; want a request", tc.in, n, r, err)
			}
			tc.want.N = len(tc.in) // every accepted case is exactly one request
			if g := snap(r, n); g != tc.want {
				t.Errorf("Parse(%q) =\n%+v\nwant\n%+v", tc.in, g, tc.want)
			}
			if p.Started() || p.HeadComplete() {
				t.Errorf("after a complete request Started() = %v, HeadComplete() = %v; want false, false", p.Started(), p.HeadComplete())
			}
		})
	}
}

func TestParseRejected(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewParser(tc.limits)
			n, r, err := p.Parse([]byte(tc.in))
			if !errors.Is(err, tc.want) || n != 0 || r != nil {
				t.Fatalf("Parse(%q) = %d, %v, %v; want 0, nil, %v", tc.in, n, r, err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.State == "" || pe.Snippet == "" || pe.Offset < 0 || pe.Offset > len(tc.in) {
				t.Fatalf("Parse(%q) error = %#v; want a *ParseError with state, offset and snippet", tc.in, err)
			}
			// The error is sticky until Reset.
			if _, _, err2 := p.Parse([]byte(tc.in)); err2 != err {
				t.Errorf("second Parse = %v; want the same error %v", err2, err)
			}
			p.Reset()
			if n, r, err := p.Parse([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil || r == nil || n != 18 {
				t.Errorf("Parse after Reset = %d, %v, %v; want 18, request, nil", n, r, err)
			}
		})
	}
}

// pipelines are several requests in one buffer, mixing framings.
var pipelines = []struct {
	name string
	in   string
	reqs int
	rest int
}{
	{"three GETs", strings.Repeat("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", 3), 3, 0},
	{"GET POST chunked GET", "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody" +
		chunkedHead + "2;a=b\r\nhi\r\n3\r\n!!!\r\n0\r\nT: 1\r\n\r\n" +
		"GET /4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 4, 0},
	{"complete then partial", "GET / HTTP/1.1\r\nHost: h\r\n\r\nPOST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nabc", 1, 50},
	{"empty line after a body", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody\r\n" +
		"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n" + chunkedHead + "1\r\nx\r\n0\r\n\r\n\r\n\r\n" + "GET /4 HTTP/1.1\r\nHost: h\r\n\r\n", 4, 0},
	{"empty lines after the last request", "GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\n", 1, 4},
	{"complete then invalid", "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost : h\r\n\r\n", 1, 0},
	{"body that looks like a request", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 28\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\nGET /y HTTP/1.1\r\nHost: h\r\n\r\n", 2, 0},
}

func TestSplitPoints(t *testing.T) {
	type input struct {
		name   string
		in     string
		limits Limits
	}
	var ins []input
	for _, tc := range acceptCases {
		ins = append(ins, input{"accept/" + tc.name, tc.in, Limits{}})
		// Every proper prefix must be "need more".
		ins = append(ins, input{"prefix/" + tc.name, tc.in[:len(tc.in)-1], Limits{}})
	}
	for _, tc := range rejectCases {
		if len(tc.in) < 1024 {
			ins = append(ins, input{"reject/" + tc.name, tc.in, tc.limits})
		}
	}
	for _, tc := range pipelines {
		ins = append(ins, input{"pipeline/" + tc.name, tc.in, Limits{}})
	}
	for _, in := range ins {
		t.Run(in.name, func(t *testing.T) {
			if _, err := agree(in.limits, []byte(in.in)); err != nil {
				t.Errorf("feeding %q: %v", in.in, err)
			}
		})
	}
}

func TestPipelined(t *testing.T) {
	for _, tc := range pipelines {
		t.Run(tc.name, func(t *testing.T) {
			o := feed(Limits{}, []byte(tc.in), byteAtATime([]byte(tc.in)))
			if len(o.Reqs) != tc.reqs || o.Rest != tc.rest {
				t.Errorf("feed(%q) = %d requests, %d bytes left; want %d, %d\n%v", tc.in, len(o.Reqs), o.Rest, tc.reqs, tc.rest, o)
			}
		})
	}
	o := feed(Limits{}, []byte(pipelines[1].in), whole([]byte(pipelines[1].in)))
	var bodies []string
	for _, r := range o.Reqs {
		bodies = append(bodies, r.Method+" "+r.Path+" "+r.Body)
	}
	if got, want := strings.Join(bodies, "|"), "GET /1 |POST /2 body|POST / hi!!!|GET /4 "; got != want {
		t.Errorf("pipelined requests = %q; want %q", got, want)
	}
}

// TestNoRescan feeds a large head one byte at a time and checks that the
// parser examined each byte once: work is linear in the input, not
// quadratic as it would be if every call restarted from the first byte.
func TestNoRescan(t *testing.T) {
	var b strings.Builder
	b.WriteString("POST /" + strings.Repeat("p", 4000) + "?q=1 HTTP/1.1\r\nHost: h\r\n")
	for i := 0; i < 90; i++ {
		b.WriteString("X-Field-" + strings.Repeat("n", i) + ": " + strings.Repeat("v ", 100) + "\r\n")
	}
	b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	for i := 1; i < 50; i++ {
		b.WriteString("a;ext=" + strings.Repeat("e", 20) + "\r\n0123456789\r\n")
	}
	b.WriteString("0\r\nTrailer-Field: value\r\n\r\n")
	in := []byte(b.String())
	if len(in) < 20000 {
		t.Fatalf("input is only %d bytes", len(in))
	}
	p := NewParser(Limits{})
	calls := 0
	for k := 1; k <= len(in); k++ {
		calls++
		n, r, err := p.Parse(in[:k])
		if err != nil {
			t.Fatalf("Parse(in[:%d]) = %v", k, err)
		}
		if r != nil {
			if n != len(in) || k != len(in) {
				t.Fatalf("Parse(in[:%d]) completed %d bytes; want %d at the last byte", k, n, len(in))
			}
			break
		}
	}
	if p.scanned != len(in) {
		t.Errorf("examined %d bytes over %d calls for a %d-byte request; want exactly %d", p.scanned, calls, len(in), len(in))
	}
}

func TestHeadCompleteAndPending(t *testing.T) {
	in := []byte("PUT /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
	head := bytes.Index(in, []byte("\r\n\r\n")) + 4
	p := NewParser(Limits{})
	if p.Started() || p.HeadComplete() || p.Pending(in[:0]) != nil {
		t.Fatalf("fresh parser: Started() = %v, HeadComplete() = %v; want false, false and no Pending", p.Started(), p.HeadComplete())
	}
	for k := 1; k < len(in); k++ {
		// A copy at a new address each time, as gnet's Peek may produce.
		buf := append([]byte(nil), in[:k]...)
		if _, r, err := p.Parse(buf); r != nil || err != nil {
			t.Fatalf("Parse(in[:%d]) = %v, %v; want need more", k, r, err)
		}
		if !p.Started() {
			t.Errorf("after %d bytes Started() = false; want true", k)
		}
		if got, want := p.HeadComplete(), k >= head; got != want {
			t.Errorf("after %d bytes HeadComplete() = %v; want %v", k, got, want)
		}
		pr := p.Pending(append([]byte(nil), in[:k]...))
		if (pr != nil) != (k >= head) {
			t.Fatalf("after %d bytes Pending() = %v; want non-nil only once the head is complete", k, pr)
		}
		if pr != nil && (string(pr.Path) != "/up" || !pr.Expect100 || pr.ContentLength != 5 || pr.Body != nil ||
			string(pr.Header("expect")) != "100-continue") {
			t.Errorf("after %d bytes Pending() = %+v; want PUT /up, Expect100, ContentLength 5, nil Body", k, pr)
		}
	}
	if n, r, err := p.Parse(in); err != nil || r == nil || n != len(in) || string(r.Body) != "hello" {
		t.Fatalf("Parse(all) = %d, %v, %v; want the request with body hello", n, r, err)
	}
	if p.Started() || p.HeadComplete() {
		t.Errorf("after completion Started() = %v, HeadComplete() = %v; want false, false", p.Started(), p.HeadComplete())
	}
}

// TestEmptyLinesBeforeRequest checks that up to MaxEmptyLines empty lines
// (RFC 9112 §2.2) are skipped without starting a request: the engine keeps
// such a connection under its idle timer, not the header timer.
func TestEmptyLinesBeforeRequest(t *testing.T) {
	in := []byte(strings.Repeat("\r\n", MaxEmptyLines) + "GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
	p := NewParser(Limits{})
	for k := 1; k < len(in); k++ {
		if n, r, err := p.Parse(in[:k]); n != 0 || r != nil || err != nil {
			t.Fatalf("Parse(in[:%d]) = %d, %v, %v; want need more", k, n, r, err)
		}
		if got, want := p.Started(), k > 2*MaxEmptyLines; got != want {
			t.Errorf("after %q Started() = %v; want %v", in[:k], got, want)
		}
	}
	n, r, err := p.Parse(in)
	if err != nil || r == nil || n != len(in) || string(r.Method) != "GET" || string(r.Target) != "/x" {
		t.Fatalf("Parse(%q) = %d, %v, %v; want the whole input as GET /x", in, n, r, err)
	}
	if p.Started() {
		t.Errorf("after the request Started() = true; want false")
	}
}

// TestLimitsEarly checks that limits trip as soon as they are certain to be
// exceeded, without waiting for the rest of the request.
func TestLimitsEarly(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		ok     string // needs more
		bad    string // rejected
		want   error
	}{
		{"request line", Limits{MaxRequestLine: 16}, "GET /2345678901", "GET /23456789012", ErrRequestLineTooLong},
		{"request line CRLF counts", Limits{MaxRequestLine: 16}, "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n", nil},
		{"request line one over", Limits{MaxRequestLine: 15}, "GET / HTTP/1.1", "GET / HTTP/1.1\r", ErrRequestLineTooLong},
		{"request line after empty lines", Limits{MaxRequestLine: 16}, "\r\n\r\nGET / HTTP/1.1\r", "\r\n\r\nGET / HTTP/1.1\r\n", nil},
		{"head after empty lines", Limits{MaxHeadBytes: 32}, "\r\nGET / HTTP/1.1\r\nHost: h\r\nX: 123", "\r\nGET / HTTP/1.1\r\nHost: h\r\nX: 1234", ErrHeaderTooLarge},
		{"major version", Limits{}, "GET / HTTP/", "GET / HTTP/2", ErrUnsupportedVersion},
		{"minor version", Limits{}, "GET / HTTP/1.", "GET / HTTP/1.9", ErrUnsupportedVersion},
		{"version syntax", Limits{}, "GET / HTTP/1.1", "GET / HTTP/1.1 ", ErrBadRequest},
		{"version case", Limits{}, "GET / HTT", "GET / HTTp", ErrBadRequest},
		{"head", Limits{MaxHeadBytes: 32}, "GET / HTTP/1.1\r\nHost: h\r\nX: 123", "GET / HTTP/1.1\r\nHost: h\r\nX: 1234", ErrHeaderTooLarge},
		{"body by Content-Length", Limits{MaxBodyBytes: 10}, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n",
			"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", ErrBodyTooLarge},
		{"chunk announced", Limits{MaxBodyBytes: 10}, chunkedHead + "5\r\nhello\r\n5\r\n", chunkedHead + "5\r\nhello\r\n6\r\n", ErrBodyTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, r, err := NewParser(tc.limits).Parse([]byte(tc.ok)); r != nil || err != nil {
				t.Errorf("Parse(%q) = %v, %v; want need more", tc.ok, r, err)
			}
			_, _, err := NewParser(tc.limits).Parse([]byte(tc.bad))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Parse(%q) error = %v; want %v", tc.bad, err, tc.want)
			}
		})
	}
}

func TestParseErrorReport(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: h\r\nX-Evil : <script>\r\n\r\n"
	_, _, err := NewParser(Limits{}).Parse([]byte(in))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse(%q) = %v; want *ParseError", in, err)
	}
	want := ParseError{Err: ErrBadRequest, State: "header-name", Offset: 31, Snippet: `"\r\nX-Evil : <scri"`}
	if *pe != want {
		t.Errorf("Parse(%q) error = %+v; want %+v", in, *pe, want)
	}
	if got := pe.Error(); got != `httpcodec: malformed request (state header-name, offset 31, near "\r\nX-Evil : <scri")` {
		t.Errorf("Error() = %s", got)
	}
	_, _, err = NewParser(Limits{}).Parse([]byte(chunkedHead + "0\r\nX : y\r\n\r\n"))
	if !errors.As(err, &pe) || pe.State != "trailer-name" {
		t.Errorf("trailer error = %v; want state trailer-name", err)
	}
}

func TestParseShrinkingBufferPanics(t *testing.T) {
	p := NewParser(Limits{})
	p.Parse([]byte("GET / HT"))
	defer func() {
		if recover() == nil {
			t.Error("Parse with fewer bytes than before did not panic")
		}
	}()
	p.Parse([]byte("GET"))
}

func TestScratchReleased(t *testing.T) {
	p := NewParser(Limits{})
	big := chunkedHead + "20000\r\n" + strings.Repeat("z", 0x20000) + "\r\n0\r\n\r\n"
	if _, r, err := p.Parse([]byte(big)); err != nil || len(r.Body) != 0x20000 {
		t.Fatalf("Parse(big chunked) = %v; want a %d-byte body", err, 0x20000)
	}
	if _, _, err := p.Parse([]byte("GET / HTTP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if cap(p.body) > keepScratch {
		t.Errorf("body scratch capacity after a small request = %d; want at most %d", cap(p.body), keepScratch)
	}
}

// TestScratchReleasedOnReset: a parser reset after a large chunked body,
// complete or not, keeps no large scratch (the engine pools parsers).
func TestScratchReleasedOnReset(t *testing.T) {
	for _, tail := range []string{"\r\n0\r\n\r\n", ""} {
		p := NewParser(Limits{})
		p.Parse([]byte(chunkedHead + "20000\r\n" + strings.Repeat("z", 0x20000) + tail))
		if cap(p.body) < 0x20000 {
			t.Fatalf("body scratch %d after a 128 KiB chunk; the test proves nothing", cap(p.body))
		}
		p.Reset()
		if cap(p.body) > keepScratch {
			t.Errorf("body scratch capacity after Reset = %d; want at most %d", cap(p.body), keepScratch)
		}
	}
}

func TestRequestHeaderLookup(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: h\r\nAccept-Encoding: br;q=1, GZip ;q=0.5\r\nX-Dup: one\r\nx-dup: two\r\nConnection: keep-alive\r\n\r\n"
	_, r, err := NewParser(Limits{}).Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	headers := []struct{ name, want string }{{"x-dup", "one"}, {"HOST", "h"}, {"Missing", ""}}
	for _, tc := range headers {
		if got := string(r.Header(tc.name)); got != tc.want {
			t.Errorf("Header(%q) = %q; want %q", tc.name, got, tc.want)
		}
	}
	if r.Header("Missing") != nil {
		t.Errorf("Header(Missing) = non-nil; want nil")
	}
	tokens := []struct {
		name, token string
		want        bool
	}{
		{"accept-encoding", "gzip", true},
		{"Accept-Encoding", "br", true},
		{"Accept-Encoding", "deflate", false},
		{"Accept-Encoding", "q=1", false},
		{"Connection", "Keep-Alive", true},
		{"Connection", "close", false},
		{"X-Dup", "two", true},
		{"X-Dup", "tw", false},
	}
	for _, tc := range tokens {
		if got := r.HasToken(tc.name, tc.token); got != tc.want {
			t.Errorf("HasToken(%q, %q) = %v; want %v", tc.name, tc.token, got, tc.want)
		}
	}
}

func TestVisitQuery(t *testing.T) {
	tests := []struct {
		query string
		want  string
		err   error
	}{
		{"a=1&b=x+y&c=%41%2b", "a=1|b=x y|c=A+", nil},
		{"flag&=v&&k=", "flag=|=v|k=", nil},
		{"k%20ey=v%3D1=2", "k ey=v=1=2", nil},
		{"a=1&b=%zz&c=3", "a=1", ErrBadRequest},
		{"", "", nil},
	}
	for _, tc := range tests {
		in := "GET /?" + tc.query + " HTTP/1.1\r\nHost: h\r\n\r\n"
		_, r, err := NewParser(Limits{}).Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%q) = %v", in, err)
		}
		var pairs []string
		err = r.VisitQuery(func(k, v []byte) bool {
			pairs = append(pairs, string(k)+"="+string(v))
			return true
		})
		if got := strings.Join(pairs, "|"); got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("VisitQuery(%q) = %q, %v; want %q, %v", tc.query, got, err, tc.want, tc.err)
		}
	}
	// Stopping early.
	_, r, _ := NewParser(Limits{}).Parse([]byte("GET /?a=1&b=2&c=3 HTTP/1.0\r\n\r\n"))
	n := 0
	r.VisitQuery(func(k, v []byte) bool { n++; return string(k) != "b" })
	if n != 2 {
		t.Errorf("VisitQuery stopping at b visited %d pairs; want 2", n)
	}
	// A hand-built Request has no parser scratch and still works.
	hand := &Request{RawQuery: []byte("x=%31")}
	var v string
	if err := hand.VisitQuery(func(_, val []byte) bool { v = string(val); return true }); err != nil || v != "1" {
		t.Errorf("hand-built VisitQuery = %q, %v; want 1, nil", v, err)
	}
}

func TestAppendUnescape(t *testing.T) {
	tests := []struct {
		in        string
		plusSpace bool
		want      string
		err       error
	}{
		{"a%20b+c", false, "pre:a b+c", nil},
		{"a%20b+c", true, "pre:a b c", nil},
		{"%e2%82%AC", false, "pre:€", nil},
		{"%", false, "pre:", ErrBadRequest},
		{"ab%4", false, "pre:", ErrBadRequest},
		{"%g0", false, "pre:", ErrBadRequest},
		{"", true, "pre:", nil},
	}
	for _, tc := range tests {
		got, err := AppendUnescape([]byte("pre:"), []byte(tc.in), tc.plusSpace)
		if string(got) != tc.want || err != tc.err {
			t.Errorf("AppendUnescape(pre:, %q, %v) = %q, %v; want %q, %v", tc.in, tc.plusSpace, got, err, tc.want, tc.err)
		}
	}
}

func TestVisitForm(t *testing.T) {
	var pairs []string
	scratch, err := VisitForm(make([]byte, 0, 4), []byte("name=J%C3%BCrgen+M&move=e2-e4"), func(k, v []byte) bool {
		pairs = append(pairs, string(k)+"="+string(v))
		return true
	})
	if got := strings.Join(pairs, "|"); got != "name=Jürgen M|move=e2-e4" || err != nil {
		t.Errorf("VisitForm = %q, %v; want %q, nil", got, err, "name=Jürgen M|move=e2-e4")
	}
	if cap(scratch) < len("Jürgen M")+len("name") {
		t.Errorf("VisitForm returned scratch of capacity %d; want it grown and returned", cap(scratch))
	}
}
