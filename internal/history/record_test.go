package history

import "testing"

func TestRecordFieldsReadBackInOrder(t *testing.T) {
	fields := [][2]string{{"p_event", "data"}, {"", ""}, {"empty", ""}, {"long", string(make([]byte, 300))}, {"data", "{}"}, {string(make([]byte, 70)), "long name"}, {"p_subject", "/room/a"}}
	var rec []byte
	for _, f := range fields {
		rec = AppendField(rec, f[0], f[1])
	}
	i := 0
	it := ReadFields(rec)
	for ; it.Next(); i++ {
		if it.Name != fields[i][0] || it.Value != fields[i][1] {
			t.Fatalf("field %d = %q=%q; want %q=%q", i, it.Name, it.Value, fields[i][0], fields[i][1])
		}
	}
	if i != len(fields) || it.Malformed() {
		t.Fatalf("read %d fields (malformed %v); want %d", i, it.Malformed(), len(fields))
	}
}

func FuzzReadFields(f *testing.F) {
	f.Add(AppendField(AppendField(nil, "a", "b"), "c", "d"))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{5, 'a'})
	f.Add([]byte{3, 0, 0xff, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		n := 0
		for it := ReadFields(rec); it.Next(); n++ {
			if len(it.Value) > len(rec) {
				t.Fatal("a value longer than its record")
			}
		}
		if n > len(rec) {
			t.Fatalf("%d fields from %d bytes", n, len(rec))
		}
	})
}

// Every known name is written as one byte, and read back as itself.
func TestKnownNamesAreOneByte(t *testing.T) {
	for i, name := range knownNames {
		if got := knownName(name); got != i {
			t.Errorf("knownName(%q) = %d; want %d", name, got, i)
		}
		rec := AppendField(nil, name, "v")
		if len(rec) != 3 {
			t.Errorf("AppendField(nil, %q, \"v\") is %d bytes; want 3", name, len(rec))
		}
		if it := ReadFields(rec); !it.Next() || it.Name != name || it.Value != "v" {
			t.Errorf("%q reads back as %q=%q", name, it.Name, it.Value)
		}
	}
	for _, name := range []string{"p_events", "Type", "p_tim", "p_subjects", "move"} {
		if got := knownName(name); got != -1 {
			t.Errorf("knownName(%q) = %d; want -1", name, got)
		}
	}
}

// A game's event is held as its values and two bytes a field: the record
// of a tictactoe move, 169 bytes with its names written out, is 139.
func TestRecordOfAGameEventCostsItsValuesAndTwoBytesAField(t *testing.T) {
	fields := [][2]string{
		{"p_event", "data"}, {"p_time", "1796606950"}, {"p_subject", "/room/d4dpch6qo3kdy7iw"}, {"type", "move"},
		{"data", `{"board":["","","X","","","","","",""],"cell":2,"mark":"X","player":"g-5kq7d26pedperafn"}`},
	}
	var rec []byte
	values := 0
	for _, f := range fields {
		rec = AppendField(rec, f[0], f[1])
		values += len(f[1])
	}
	if want := values + 2*len(fields); len(rec) != want {
		t.Errorf("the record is %d bytes; want %d (its values and 2 a field)", len(rec), want)
	}
}
