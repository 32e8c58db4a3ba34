//go:build linux

package sandbox

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func run(t *testing.T, m *Manager, mem int, script string) (string, error, *Process) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := m.Start(Spec{Path: "/bin/sh", Args: []string{"-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: "/", Output: w, MemoryMB: mem})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	werr := p.Wait()
	t.Cleanup(p.Cleanup)
	return string(out), werr, p
}

func TestStartUserAndOutput(t *testing.T) {
	m, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Log(m.Describe())
	out, werr, p := run(t, m, 128, `id -u; sleep 0.05; ulimit -n; exit 3`)
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("wait = %v, want exit 3", werr)
	}
	lines := strings.Fields(out)
	uid, _, switched := m.Owner()
	if len(lines) != 2 || lines[0] != itoa(uid) || lines[1] != "1024" {
		t.Errorf("output %q, want uid %d and fd limit 1024 (switched=%v)", out, uid, switched)
	}
	if os.Geteuid() == 0 && (!switched || uid != 65534) {
		t.Errorf("as root functions must run as nobody, got uid %d", uid)
	}
	if p.MaxMemoryBytes() <= 0 {
		t.Errorf("MaxMemoryBytes = %d", p.MaxMemoryBytes())
	}
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

// A process that allocates past MemorySize is stopped: OOM-killed inside a
// cgroup, or failing its allocation under RLIMIT_DATA.
func TestMemoryLimit(t *testing.T) {
	for _, mode := range []string{"auto", "off"} {
		t.Run(mode, func(t *testing.T) {
			m, err := New(Config{Cgroups: mode}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			// head -c allocates nothing; use a shell variable growth loop
			// through awk, which keeps the whole string in memory.
			_, werr, p := run(t, m, 32, `awk 'BEGIN{s="x"; while (length(s) < 200000000) s = s s; print length(s)}'`)
			if werr == nil {
				t.Fatal("process exceeding its memory limit succeeded")
			}
			if m.cg != nil {
				var ee *exec.ExitError
				if errors.As(werr, &ee) {
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && !p.OOMKilled() {
						t.Errorf("killed by %v but OOMKilled() = false", ws.Signal())
					}
				}
				if peak := p.MaxMemoryBytes(); peak < 16<<20 || peak > 40<<20 {
					t.Errorf("peak = %d MiB, want about the 32 MiB limit", peak>>20)
				}
			}
		})
	}
}

func TestKillGroup(t *testing.T) {
	m, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, w, _ := os.Pipe()
	p, err := m.Start(Spec{Path: "/bin/sh", Args: []string{"-c", "sleep 60 & echo started; wait"}, Dir: "/", Output: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	_, _ = io.ReadFull(r, buf)
	p.Kill()
	if err := p.Wait(); err == nil {
		t.Fatal("killed process exited 0")
	}
	// The background sleep was in the same group: the pipe closes once it dies.
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	p.Cleanup()
}

func TestParseVmHWM(t *testing.T) {
	if got := parseVmHWM([]byte("Name:\tx\nVmHWM:\t   1234 kB\nVmRSS:\t1 kB\n")); got != 1234<<10 {
		t.Errorf("got %d", got)
	}
	if got := parseVmHWM([]byte("nothing")); got != 0 {
		t.Errorf("got %d", got)
	}
}

func TestValidate(t *testing.T) {
	if err := (&Config{Cgroups: "v3"}).Validate(); err == nil {
		t.Error("v3 accepted")
	}
	if _, _, err := lookupUser("no-such-user-xyz"); err == nil {
		t.Error("unknown user accepted")
	}
	if uid, gid, err := lookupUser("1000:2000"); err != nil || uid != 1000 || gid != 2000 {
		t.Errorf("lookupUser(1000:2000) = %d %d %v", uid, gid, err)
	}
}

func TestStartNotExecutable(t *testing.T) {
	m, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f := t.TempDir() + "/bootstrap"
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(Spec{Path: f, Dir: "/"}); !errors.Is(err, ErrNotExecutable) {
		t.Errorf("err = %v, want ErrNotExecutable", err)
	}
	if _, err := m.Start(Spec{Path: f + ".missing", Dir: "/"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

// TestCPUsInProportionToMemory: an environment sees ceil(MB / 1769) of
// the engine's CPUs (at least one), assigned round-robin, from its first
// instruction (the affinity is inherited, so `nproc` in the process says
// so); with AllCPUs it sees all of them; the engine's own threads keep
// theirs.
func TestCPUsInProportionToMemory(t *testing.T) {
	var all cpuMask
	if err := getAffinity(&all); err != nil {
		t.Fatal(err)
	}
	n := all.count()
	m, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Log(m.Describe())
	if n < 2 {
		// Nothing to divide: no allocator, and environments see the one CPU.
		if m.cpus != nil {
			t.Fatalf("an allocator over %d CPU", n)
		}
		if out, werr, _ := run(t, m, 128, `nproc`); werr != nil || strings.TrimSpace(out) != "1" {
			t.Fatalf("nproc %q, %v", out, werr)
		}
		return
	}
	nproc := func(m *Manager, mem int) string {
		out, werr, _ := run(t, m, mem, `nproc`)
		if werr != nil {
			t.Fatal(werr)
		}
		return strings.TrimSpace(out)
	}
	for _, tc := range []struct{ mem, want int }{
		{128, 1}, {1769, 1}, {1770, min(2, n)}, {10240, min(6, n)},
	} {
		if got := nproc(m, tc.mem); got != itoa(tc.want) {
			t.Errorf("%d MB: nproc %s, want %d", tc.mem, got, tc.want)
		}
	}
	// Round-robin: consecutive one-CPU environments land on different CPUs.
	seen := map[string]bool{}
	for range n {
		out, werr, _ := run(t, m, 128, `grep Cpus_allowed_list /proc/self/status`)
		if werr != nil {
			t.Fatal(werr)
		}
		seen[strings.TrimSpace(out)] = true
	}
	if len(seen) != n {
		t.Errorf("%d one-CPU environments got %d distinct CPU sets: %v", n, len(seen), seen)
	}
	var after cpuMask
	if err := getAffinity(&after); err != nil || after != all {
		t.Errorf("the engine's thread affinity changed: %v (%v)", after.cpus(), err)
	}
	wide, err := New(Config{AllCPUs: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	if got := nproc(wide, 128); got != itoa(n) {
		t.Errorf("AllCPUs: nproc %s, want %d", got, n)
	}
}
