package httpcodec

import (
	"sync/atomic"
	"time"
)

// dateLine is the "Date: ...\r\n" line of one second.
type dateLine struct {
	sec  int64
	line []byte // never modified once published
}

// dateCache holds the last formatted line. Writers race to replace it at a
// second boundary; any of them winning is fine, since each stores a complete,
// immutable line.
var dateCache atomic.Pointer[dateLine]

// imfFixdate is the IMF-fixdate layout of RFC 9110 §5.6.7 (net/http's TimeFormat).
const imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"

// AppendDate appends "Date: <IMF-fixdate>\r\n" for now, from a cache renewed
// once per second. Safe for concurrent use.
func AppendDate(dst []byte, now time.Time) []byte {
	sec := now.Unix()
	d := dateCache.Load()
	if d == nil || d.sec != sec {
		b := make([]byte, 0, len("Date: ")+len(imfFixdate)+2)
		b = append(b, "Date: "...)
		b = now.UTC().AppendFormat(b, imfFixdate)
		d = &dateLine{sec: sec, line: append(b, "\r\n"...)}
		dateCache.Store(d)
	}
	return append(dst, d.line...)
}
