package spool

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenSegment writes arbitrary bytes as a spool segment (as a crash or
// a disk fault might leave it) and checks that Open and a full drain never
// fail or panic, that every record delivered has a valid checksum, and that
// records appended afterwards are delivered intact.
func FuzzOpenSegment(f *testing.F) {
	good, err := encodeForFuzz([]Record{{1, []byte(`{"a":1}`)}, {2, []byte(`{"b":2}`)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte(magic))
	f.Add([]byte("FLSPOOL"))
	f.Add(append([]byte(magic), 0xff, 0xff, 0xff, 0xff))
	f.Add(append(append([]byte(nil), good...), make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%016x%s", firstSeq, fileSuffix)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{Dir: dir, MaxBytes: 1 << 30, NoSync: true})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		before := s.Len()
		if err := s.Append([]Record{{ReceivedNanos: -7, Data: []byte("tail")}}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		var got int64
		var last Record
		for {
			recs, _, p, err := s.Peek(nil, nil, 3, 1<<20)
			if err != nil {
				t.Fatalf("Peek: %v", err)
			}
			if len(recs) == 0 {
				break
			}
			got += int64(len(recs))
			last = recs[len(recs)-1]
			if err := s.Commit(p); err != nil {
				t.Fatalf("Commit: %v", err)
			}
		}
		if got > before+1 {
			t.Fatalf("delivered %d records, Open counted %d (+1 appended)", got, before)
		}
		if last.ReceivedNanos != -7 || string(last.Data) != "tail" {
			t.Fatalf("appended record lost or changed: %+v", last)
		}
	})
}

// encodeForFuzz builds a segment file image holding recs.
func encodeForFuzz(recs []Record) ([]byte, error) {
	b := []byte(magic)
	for _, r := range recs {
		var h [recHeaderLen]byte
		binary.LittleEndian.PutUint32(h[0:4], uint32(len(r.Data)))
		binary.LittleEndian.PutUint64(h[8:16], uint64(r.ReceivedNanos))
		binary.LittleEndian.PutUint32(h[4:8], crcOf(h[8:16], r.Data))
		b = append(b, h[:]...)
		b = append(b, r.Data...)
	}
	return b, nil
}
