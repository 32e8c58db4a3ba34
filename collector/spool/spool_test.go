package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func recs(from, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{ReceivedNanos: int64(from + i), Data: fmt.Appendf(nil, `{"n":%d,"pad":"%0*d"}`, from+i, (from+i)%50, 0)}
	}
	return out
}

func open(t *testing.T, dir string, o Options) *Spool {
	t.Helper()
	o.Dir = dir
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// drain reads and commits everything, returning the ReceivedNanos in order.
func drain(t *testing.T, s *Spool, chunk int) []int64 {
	t.Helper()
	var got []int64
	var dst []Record
	var buf []byte
	for {
		var p Position
		var err error
		dst, buf, p, err = s.Peek(dst, buf, chunk, 1<<20)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		if len(dst) == 0 {
			return got
		}
		for _, r := range dst {
			want := fmt.Sprintf(`{"n":%d,`, r.ReceivedNanos)
			if string(r.Data[:len(want)]) != want {
				t.Fatalf("record %d has data %q", r.ReceivedNanos, r.Data)
			}
			got = append(got, r.ReceivedNanos)
		}
		if err := s.Commit(p); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
}

func seq(from, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(from + i)
	}
	return out
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name     string
		segBytes int64
		batches  int
		perBatch int
		chunk    int
	}{
		{"one segment", 0, 5, 100, 7},
		{"many small segments", 2000, 20, 37, 10},
		{"chunk larger than data", 4096, 3, 5, 1000},
		{"one record per peek", 1500, 4, 25, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, t.TempDir(), Options{SegmentBytes: tt.segBytes, NoSync: true})
			for b := range tt.batches {
				if err := s.Append(recs(b*tt.perBatch, tt.perBatch)); err != nil {
					t.Fatal(err)
				}
			}
			total := tt.batches * tt.perBatch
			if got := s.Len(); got != int64(total) {
				t.Fatalf("Len = %d, want %d", got, total)
			}
			got := drain(t, s, tt.chunk)
			if !slices.Equal(got, seq(0, total)) {
				t.Fatalf("order: got %v", got)
			}
			st := s.Stats()
			if st.Records != 0 || st.Bytes != 0 || st.Segments != 0 {
				t.Fatalf("after drain: %+v", st)
			}
		})
	}
}

func TestInterleavedAppendAndRead(t *testing.T) {
	s := open(t, t.TempDir(), Options{SegmentBytes: 3000, NoSync: true})
	next := 0
	var got []int64
	for round := range 30 {
		n := 1 + round%7
		if err := s.Append(recs(next, n)); err != nil {
			t.Fatal(err)
		}
		next += n
		dst, _, p, err := s.Peek(nil, nil, 3, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range dst {
			got = append(got, r.ReceivedNanos)
		}
		if err := s.Commit(p); err != nil {
			t.Fatal(err)
		}
	}
	got = append(got, drain(t, s, 5)...)
	if !slices.Equal(got, seq(0, next)) {
		t.Fatalf("got %v", got)
	}
}

func TestPrependGoesFirst(t *testing.T) {
	tests := []struct {
		name   string
		before int // records appended before the prepend
	}{
		{"into empty spool", 0},
		{"before unread records", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{NoSync: true})
			if err := s.Append(recs(100, tt.before)); err != nil {
				t.Fatal(err)
			}
			if err := s.Prepend(recs(90, 10)); err != nil {
				t.Fatal(err)
			}
			if err := s.Append(recs(100+tt.before, 5)); err != nil {
				t.Fatal(err)
			}
			want := seq(90, 10+tt.before+5)
			// The order must also hold after a restart.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir, Options{NoSync: true})
			if got := drain(t, s, 4); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestBound(t *testing.T) {
	one := EncodedSize(recs(0, 1)) // records are ~30-80 bytes
	s := open(t, t.TempDir(), Options{MaxBytes: 4096, SegmentBytes: 1024, NoSync: true})
	appended := 0
	var err error
	for err == nil {
		err = s.Append(recs(appended, 3))
		if err == nil {
			appended += 3
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append error = %v, want ErrFull", err)
	}
	st := s.Stats()
	if st.Bytes > 4096 {
		t.Fatalf("spool grew to %d bytes, bound is 4096", st.Bytes)
	}
	if st.Bytes < 4096-4*one-2*headerLen {
		t.Fatalf("spool refused records with %d of 4096 bytes used", st.Bytes)
	}
	if st.Records != int64(appended) {
		t.Fatalf("Records = %d, want %d", st.Records, appended)
	}
	// Reading frees space again.
	if got := drain(t, s, 1000); !slices.Equal(got, seq(0, appended)) {
		t.Fatalf("got %v", got)
	}
	if err := s.Append(recs(0, 3)); err != nil {
		t.Fatalf("Append after drain: %v", err)
	}
}

func TestRestartResumesAfterCommitted(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 2000})
	for b := range 10 {
		if err := s.Append(recs(b*20, 20)); err != nil {
			t.Fatal(err)
		}
	}
	// Consume 55 records (across segment boundaries), then restart.
	consumed := 0
	for consumed < 55 {
		dst, _, p, err := s.Peek(nil, nil, min(8, 55-consumed), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		consumed += len(dst)
		if err := s.Commit(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, Options{SegmentBytes: 2000})
	if got := s.Len(); got != 200-55 {
		t.Fatalf("Len after restart = %d, want %d", got, 200-55)
	}
	// New appends go behind the old records.
	if err := s.Append(recs(200, 10)); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s, 9); !slices.Equal(got, seq(55, 155)) {
		t.Fatalf("got %v", got)
	}
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name string
		// damage edits the newest segment file's bytes.
		damage func(b []byte) []byte
		want   int // intact records expected of the 30 written
	}{
		{"half a record header", func(b []byte) []byte { return append(b, 0x10, 0, 0) }, 30},
		{"record cut in the middle", func(b []byte) []byte { return b[:len(b)-5] }, 29},
		{"flipped payload byte", func(b []byte) []byte { b[len(b)-3] ^= 0xff; return b }, 29},
		{"absurd length", func(b []byte) []byte {
			return append(b, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		}, 30},
		{"zeroed tail (preallocated)", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, Options{NoSync: true})
			if err := s.Append(recs(0, 10)); err != nil {
				t.Fatal(err)
			}
			// Force a second segment by reopening, then damage its tail.
			s.Close()
			s = open(t, dir, Options{NoSync: true})
			if err := s.Append(recs(10, 20)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			files, _ := filepath.Glob(filepath.Join(dir, "*.spool"))
			if len(files) != 2 {
				t.Fatalf("want 2 segment files, have %v", files)
			}
			slices.Sort(files)
			b, err := os.ReadFile(files[1])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(files[1], tt.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir, Options{NoSync: true})
			if got := s.Len(); got != int64(tt.want) {
				t.Fatalf("Len = %d, want %d", got, tt.want)
			}
			// Appends after a torn tail are still readable.
			if err := s.Append(recs(30, 5)); err != nil {
				t.Fatal(err)
			}
			want := append(seq(0, tt.want), seq(30, 5)...)
			if got := drain(t, s, 6); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestTornRecordInMiddleOfOldSegment(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{NoSync: true})
	if err := s.Append(recs(0, 10)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	files, _ := filepath.Glob(filepath.Join(dir, "*.spool"))
	b, _ := os.ReadFile(files[0])
	b[int(headerLen)+3*(int(EncodedSize(recs(0, 1))))+recHeaderLen+2] ^= 0x55 // inside record 3 (records 0-9 have equal sizes)
	os.WriteFile(files[0], b, 0o644)
	s = open(t, dir, Options{NoSync: true})
	if err := s.Append(recs(10, 3)); err != nil {
		t.Fatal(err)
	}
	want := append(seq(0, 3), seq(10, 3)...)
	if got := drain(t, s, 100); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if st := s.Stats(); st.TornBytes == 0 {
		t.Fatalf("TornBytes = 0, want the skipped tail counted")
	}
}

func TestLargeRecordBiggerThanPeekWindow(t *testing.T) {
	s := open(t, t.TempDir(), Options{NoSync: true})
	big := Record{ReceivedNanos: 1, Data: []byte(fmt.Sprintf(`{"n":1,"x":"%0*d"}`, 70000, 0))}
	if err := s.Append([]Record{{ReceivedNanos: 0, Data: []byte(`{"n":0,}`)}, big, {ReceivedNanos: 2, Data: []byte(`{"n":2,}`)}}); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		dst, _, p, err := s.Peek(nil, nil, 10, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(dst) == 0 {
			break
		}
		for _, r := range dst {
			got = append(got, r.ReceivedNanos)
			if r.ReceivedNanos == 1 && len(r.Data) != len(big.Data) {
				t.Fatalf("big record has %d bytes", len(r.Data))
			}
		}
		s.Commit(p)
	}
	if !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("got %v", got)
	}
}

func TestSecondOpenOfSameDirFails(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, Options{NoSync: true})
	if s, err := Open(Options{Dir: dir, MaxBytes: 1 << 20}); err == nil {
		s.Close()
		t.Fatal("second Open of a locked spool succeeded")
	}
}

func TestOpenRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{Dir: "", MaxBytes: 1}, {Dir: t.TempDir(), MaxBytes: 0}} {
		if _, err := Open(o); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

func BenchmarkSpoolAppend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		batch  int
		noSync bool
	}{
		{"batch=1000/fsync", 1000, false},
		{"batch=1000/nosync", 1000, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Open(Options{Dir: b.TempDir(), MaxBytes: 1 << 40, NoSync: bc.noSync, SegmentBytes: 64 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			doc := make([]byte, 1024)
			for i := range doc {
				doc[i] = 'a' + byte(i%26)
			}
			batch := make([]Record, bc.batch)
			for i := range batch {
				batch[i] = Record{ReceivedNanos: int64(i), Data: doc}
			}
			b.SetBytes(int64(len(doc) * bc.batch))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Append(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*bc.batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
