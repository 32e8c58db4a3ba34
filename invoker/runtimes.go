package invoker

import (
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fluoro/fluoro/invoker/engine"
	"github.com/fluoro/fluoro/invoker/runtimes"
)

// runtimeAdapter resolves managed runtimes through invoker/runtimes for the
// engine, writing each bootstrap once under dir.
type runtimeAdapter struct {
	cfg runtimes.Config
	dir string
	// needOthers: functions run as another user, so the interpreter must be
	// reachable by everyone.
	needOthers bool

	mu    sync.Mutex
	cache map[string]*engine.Bootstrap
}

func newRuntimeAdapter(cfg runtimes.Config, dir string, needOthers bool) *runtimeAdapter {
	return &runtimeAdapter{cfg: cfg, dir: dir, needOthers: needOthers, cache: map[string]*engine.Bootstrap{}}
}

// Supported reports whether a managed runtime can run here (its interpreter
// is installed and reachable by the function user).
func (a *runtimeAdapter) Supported(id string) bool {
	r, ok := runtimes.Lookup(id)
	if !ok || r.Native() {
		return false
	}
	_, err := a.config(r)
	return err == nil
}

// config returns a runtimes.Config whose interpreter for r is usable by the
// function user: when the configured one lives in a private directory (a
// pyenv shim under /root, say) another executable of the same name on PATH
// that everyone can reach is used instead.
func (a *runtimeAdapter) config(r runtimes.Runtime) (runtimes.Config, error) {
	cfg := a.cfg
	interp, err := cfg.Interpreter(r)
	if err != nil || !a.needOthers || reachableByOthers(interp) {
		return cfg, err
	}
	name := cfg.Python
	if r.Family == runtimes.FamilyNode {
		name = cfg.Node
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		cand := filepath.Join(dir, filepath.Base(name))
		if !reachableByOthers(cand) {
			continue
		}
		alt := cfg
		if r.Family == runtimes.FamilyNode {
			alt.Node = cand
		} else {
			alt.Python = cand
		}
		if real, err := alt.Interpreter(r); err == nil && reachableByOthers(real) {
			return alt, nil
		}
	}
	return cfg, fmt.Errorf("interpreter %s of runtime %s is not reachable by the function user; point -runtime-node/-runtime-python at one outside private directories: %w",
		interp, r.ID, runtimes.ErrInterpreterNotFound)
}

// reachableByOthers reports whether p (resolved through symlinks) is an
// executable every user may run.
func reachableByOthers(p string) bool {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if _, lerr := exec.LookPath(p); lerr != nil {
			return false
		}
		real = p
	}
	fi, err := os.Stat(real)
	if err != nil || fi.Mode().Perm()&0o001 == 0 {
		return false
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// Bootstrap implements engine.Runtimes.
func (a *runtimeAdapter) Bootstrap(id string) (*engine.Bootstrap, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if b := a.cache[id]; b != nil {
		return b, nil
	}
	r, ok := runtimes.Lookup(id)
	if !ok || r.Native() {
		return nil, fmt.Errorf("runtime %s: %w", id, runtimes.ErrUnsupported)
	}
	cfg, err := a.config(r)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(a.dir, strings.ReplaceAll(id, "/", "_"))
	cmd, err := cfg.WriteBootstrap(dir, id)
	if err != nil {
		return nil, err
	}
	if len(cmd) == 0 {
		return nil, errors.New("runtimes: empty bootstrap command")
	}
	_ = os.Chmod(dir, 0o755)
	b := &engine.Bootstrap{Path: cmd[0], Args: cmd[1:], Env: r.Env(), RuntimeDir: dir}
	a.cache[id] = b
	return b, nil
}

func randRead(b []byte) { _, _ = cryptorand.Read(b) }
