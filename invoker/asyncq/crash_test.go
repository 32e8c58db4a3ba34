package asyncq

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestCrashDuringEnqueue kills (SIGKILL) a process that enqueues from
// several goroutines; every event whose Enqueue had returned must be
// pending when the queue is reopened, and the log must replay cleanly.
func TestCrashDuringEnqueue(t *testing.T) {
	if dir := os.Getenv("ASYNCQ_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringEnqueue$")
	cmd.Env = append(os.Environ(), "ASYNCQ_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked[id] = true
			if len(acked) == 300 {
				cmd.Process.Kill()
				break
			}
		}
	}
	cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child acknowledged only %d events", len(acked))
	}
	q, err := Open(dir, DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	pending := map[string]bool{}
	for _, ev := range q.Pending("fn") {
		pending[ev.ID] = true
	}
	for id := range acked {
		if !pending[id] {
			t.Errorf("acknowledged event %s lost in the crash", id)
		}
	}
	t.Logf("%d acknowledged, %d pending after the crash, %d corrupt records skipped", len(acked), len(pending), q.Stats().CorruptRecords)
}

// crashChild enqueues until killed, printing each acknowledged ID.
func crashChild(dir string) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1 << 16 // rotate often: crashes hit compactions too
	q, err := Open(dir, cfg, Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("g%d-%d", g, i)
				if err := q.Enqueue(context.Background(), Event{ID: id, Function: "fn", Payload: make([]byte, 500)}); err != nil {
					fmt.Println("enqueue:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("acked", id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
