package history

import (
	"encoding/binary"
	"unsafe"
)

// A record is an event's fields in order, each as the uvarint length of its
// name, the name, the uvarint length of its value and the value. It holds no
// pointer and needs no parsing beyond the lengths.

// AppendField appends one field to the record rec.
func AppendField(rec []byte, name, value string) []byte {
	rec = binary.AppendUvarint(rec, uint64(len(name)))
	rec = append(rec, name...)
	rec = binary.AppendUvarint(rec, uint64(len(value)))
	return append(rec, value...)
}

// Fields iterates over a record's fields:
//
//	for f := history.ReadFields(rec); f.Next(); {
//		use(f.Name, f.Value)
//	}
//
// Name and Value alias the record (no copy): they are valid as long as the
// record is, and must not be retained beyond that. A record from Get never
// changes, so they may be read from any goroutine.
type Fields struct {
	rest        []byte
	Name, Value string
	bad         bool
}

// ReadFields returns an iterator over rec's fields.
func ReadFields(rec []byte) Fields { return Fields{rest: rec} }

// Next advances to the next field and reports whether there is one. A
// malformed record (which Put never stores from AppendField's output) ends
// the iteration; Err reports it.
func (f *Fields) Next() bool {
	if len(f.rest) == 0 || f.bad {
		return false
	}
	var ok bool
	if f.Name, ok = f.take(); !ok {
		return false
	}
	if f.Value, ok = f.take(); !ok {
		return false
	}
	return true
}

func (f *Fields) take() (string, bool) {
	n, k := binary.Uvarint(f.rest)
	if k <= 0 || n > uint64(len(f.rest)-k) {
		f.bad, f.rest = true, nil
		return "", false
	}
	b := f.rest[k : k+int(n)]
	f.rest = f.rest[k+int(n):]
	if len(b) == 0 {
		return "", true
	}
	return unsafe.String(&b[0], len(b)), true
}

// Malformed reports whether the iteration stopped at a malformed record.
func (f *Fields) Malformed() bool { return f.bad }

// Get returns the value of the first field called name in rec ("" if none).
func Get(rec []byte, name string) string {
	for f := ReadFields(rec); f.Next(); {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
