package history

import "testing"

func TestRecordFieldsReadBackInOrder(t *testing.T) {
	fields := [][2]string{{"p_event", "data"}, {"", ""}, {"empty", ""}, {"long", string(make([]byte, 300))}}
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
	f.Fuzz(func(t *testing.T, rec []byte) {
		n := 0
		for it := ReadFields(rec); it.Next(); n++ {
			if len(it.Name)+len(it.Value) > len(rec) {
				t.Fatal("a field longer than its record")
			}
		}
		if n > len(rec) {
			t.Fatalf("%d fields from %d bytes", n, len(rec))
		}
	})
}
