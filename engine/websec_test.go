package engine

import "testing"

// TestRedactTarget: the parameters a layer named with RedactParam (here
// comet's p_id, keeping its 11-byte public part) are cut in the access log
// whatever their case or encoding; without redactions a target is logged
// as it is.
func TestRedactTarget(t *testing.T) {
	const id = "AAAAAAAAAAABBBBBBBBBBBBBBBBBBBBBB" // public AAAAAAAAAAA, secret B…
	tests := []struct{ in, want string }{
		{"/comet", "/comet"},
		{"/comet?p_event=join", "/comet?p_event=join"},
		{"/comet?p_id=" + id, "/comet?p_id=AAAAAAAAAAA.REDACTED"},
		{"/comet?p_event=hb&p_id=" + id + "&x=1", "/comet?p_event=hb&p_id=AAAAAAAAAAA.REDACTED&x=1"},
		{"/comet?P_ID=" + id, "/comet?P_ID=AAAAAAAAAAA.REDACTED"}, // not the engine's parameter, but redacted all the same
		{"/comet?p%5fid=" + id, "/comet?p%5fid=AAAAAAAAAAA.REDACTED"},
		{"/comet?p_id=short", "/comet?p_id=short.REDACTED"},
		{"/comet?p_id=", "/comet?p_id="},
		{"/comet?p_id", "/comet?p_id"},
		{"/comet?p_id=%41%41%41%41%42%42", "/comet?p_id=%41%41%41%4.REDACTED"}, // 11 raw characters at most
		{"/comet?p%zzid=" + id, "/comet?p%zzid=AAAAAAAAAAA.REDACTED"},          // a name that does not decode: redacted
		{"/comet?a=1&&p_id=" + id + "&", "/comet?a=1&&p_id=AAAAAAAAAAA.REDACTED&"},
		{"/comet?p_id=" + id + "&p_id=" + id, "/comet?p_id=AAAAAAAAAAA.REDACTED&p_id=AAAAAAAAAAA.REDACTED"},
		{"/comet?p+id=" + id, "/comet?p+id=" + id},
	}
	for _, tt := range tests {
		if got := redactTarget([]byte(tt.in), []redaction{{"p_id", 11}}); got != tt.want {
			t.Errorf("redactTarget(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	if got := redactTarget([]byte("/comet?p_id="+id), nil); got != "/comet?p_id="+id {
		t.Errorf("without redactions: %q", got)
	}
}
