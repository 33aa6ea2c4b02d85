package history

import (
	"encoding/binary"
	"unsafe"
)

// A record is an event's fields in order, each as its name, the uvarint
// length of its value and the value. A name is a uvarint n: an even n is the
// length (n/2) of the name's bytes, which follow; an odd n stands for
// knownNames[n/2], one byte instead of the name. A record holds no pointer
// and needs no parsing beyond the lengths.

// knownNames are the names nearly every event carries (the protocol's, and
// the type and data of a game's events): a room's event of 100–200 bytes
// spends 30 of them on these names written out.
var knownNames = [...]string{"p_event", "p_time", "p_subject", "p_from", "p_to", "type", "data"}

// knownName returns the index of name in knownNames, or -1.
func knownName(name string) int {
	switch len(name) {
	case 4:
		switch name {
		case "p_to":
			return 4
		case "type":
			return 5
		case "data":
			return 6
		}
	case 6:
		switch name {
		case "p_time":
			return 1
		case "p_from":
			return 3
		}
	case 7:
		if name == "p_event" {
			return 0
		}
	case 9:
		if name == "p_subject" {
			return 2
		}
	}
	return -1
}

// AppendField appends one field to the record rec.
func AppendField(rec []byte, name, value string) []byte {
	if i := knownName(name); i >= 0 {
		rec = binary.AppendUvarint(rec, uint64(i)<<1|1)
	} else {
		rec = binary.AppendUvarint(rec, uint64(len(name))<<1)
		rec = append(rec, name...)
	}
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
	n, k := binary.Uvarint(f.rest)
	if k <= 0 {
		return f.malformed()
	}
	var ok bool
	if n&1 == 1 {
		if n>>1 >= uint64(len(knownNames)) {
			return f.malformed()
		}
		f.Name, f.rest = knownNames[n>>1], f.rest[k:]
	} else if f.Name, ok = f.take(n>>1, k); !ok {
		return false
	}
	if n, k = binary.Uvarint(f.rest); k <= 0 {
		return f.malformed()
	}
	f.Value, ok = f.take(n, k)
	return ok
}

func (f *Fields) malformed() bool {
	f.bad, f.rest = true, nil
	return false
}

// take returns the n bytes that follow the k bytes of their length.
func (f *Fields) take(n uint64, k int) (string, bool) {
	if n > uint64(len(f.rest)-k) {
		return "", f.malformed()
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
