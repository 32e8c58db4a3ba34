package chstore

import (
	"errors"
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	tests := []struct {
		t  uint64
		id string
	}{
		{0, "1-00000000-000000000000000000000000"},
		{1795774464123456, "1-6b095800-581cf771a006649127e37190"},
		{^uint64(0), "1-ffffffff-ffffffffffffffffffffffff"},
	}
	for _, tt := range tests {
		c := encodeCursor(tt.t, tt.id)
		gt, gid, err := decodeCursor(c)
		if err != nil || gt != tt.t || gid != tt.id {
			t.Errorf("decodeCursor(encodeCursor(%d, %s)) = %d, %s, %v", tt.t, tt.id, gt, gid, err)
		}
	}
	for _, bad := range []string{"", "!!", "MQ", "MjoxOjEtNmIwOTU4MDAtNTgxY2Y3NzFhMDA2NjQ5MTI3ZTM3MTkw" /* version 2 */, encodeCursor(1, "1-6b095800-581cf771a0066491'7e37190")} {
		if _, _, err := decodeCursor(bad); !errors.Is(err, ErrBadQuery) {
			t.Errorf("decodeCursor(%q) = %v, want ErrBadQuery", bad, err)
		}
	}
}

// FuzzDecodeCursor: NextToken comes from API clients. Decoding never
// panics, and whatever it accepts is safe to splice into SQL (a valid,
// lower-case trace id) and encodes back to an equivalent cursor.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(1795774464123456, "1-6b095800-581cf771a006649127e37190"))
	f.Add(encodeCursor(0, "1-00000000-000000000000000000000000"))
	f.Add("MToxOnguJyBPUiAxPTE")
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		ts, id, err := decodeCursor(c)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("error %v does not wrap ErrBadQuery", err)
			}
			return
		}
		if len(id) != 35 || strings.ContainsAny(id, "'\\\\ ") || id != strings.ToLower(id) {
			t.Fatalf("accepted unsafe trace id %q", id)
		}
		ts2, id2, err := decodeCursor(encodeCursor(ts, id))
		if err != nil || ts2 != ts || id2 != id {
			t.Fatalf("re-encoded cursor differs: %d %s %v", ts2, id2, err)
		}
	})
}
