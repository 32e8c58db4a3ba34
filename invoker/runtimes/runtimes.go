package runtimes

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed bootstrap/node.mjs
var nodeBootstrap []byte

//go:embed bootstrap/python.py
var pythonBootstrap []byte

// Family groups runtime identifiers that share one bootstrap.
type Family string

// Runtime families.
const (
	// FamilyNode: nodejs18.x and later, run by the embedded Node.js bootstrap.
	FamilyNode Family = "nodejs"
	// FamilyPython: python3.x, run by the embedded Python bootstrap.
	FamilyPython Family = "python"
	// FamilyProvided: provided.al2023 and provided.al2, whose bootstrap is the
	// function's own executable (handled natively by the engine).
	FamilyProvided Family = "provided"
)

// Runtime describes one supported Lambda runtime identifier.
type Runtime struct {
	// ID is the identifier used in CreateFunction's Runtime, e.g. "nodejs20.x".
	ID string
	// Family selects the bootstrap.
	Family Family
	// ExecutionEnv is the value of AWS_EXECUTION_ENV for this runtime
	// ("AWS_Lambda_nodejs20.x"); empty for provided runtimes, where AWS does not set it.
	ExecutionEnv string
	// BootstrapFile is the file name WriteBootstrap writes ("bootstrap.mjs",
	// "bootstrap.py"); empty for provided runtimes.
	BootstrapFile string
}

// Native reports whether the function's own `bootstrap` executable is the
// runtime (provided.al2023, provided.al2): WriteBootstrap does not apply.
func (r Runtime) Native() bool { return r.Family == FamilyProvided }

// Env returns the runtime-specific environment variables ("KEY=value") the
// engine adds to the platform ones of lambda.md §3: AWS_EXECUTION_ENV for
// managed runtimes, nothing for provided ones.
func (r Runtime) Env() []string {
	if r.ExecutionEnv == "" {
		return nil
	}
	return []string{"AWS_EXECUTION_ENV=" + r.ExecutionEnv}
}

// table lists every supported identifier.
var table = func() map[string]Runtime {
	m := map[string]Runtime{
		"provided.al2023": {ID: "provided.al2023", Family: FamilyProvided},
		"provided.al2":    {ID: "provided.al2", Family: FamilyProvided},
	}
	for _, v := range []string{"18", "20", "22", "24"} {
		id := "nodejs" + v + ".x"
		m[id] = Runtime{ID: id, Family: FamilyNode, ExecutionEnv: "AWS_Lambda_" + id, BootstrapFile: "bootstrap.mjs"}
	}
	for _, v := range []string{"9", "10", "11", "12", "13", "14"} {
		id := "python3." + v
		m[id] = Runtime{ID: id, Family: FamilyPython, ExecutionEnv: "AWS_Lambda_" + id, BootstrapFile: "bootstrap.py"}
	}
	return m
}()

// Supported returns every supported runtime identifier, sorted.
func Supported() []string {
	ids := make([]string, 0, len(table))
	for id := range table {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Lookup returns the runtime with the given identifier; ok is false for an
// unknown or unsupported identifier (the engine answers
// InvalidParameterValueException).
func Lookup(id string) (r Runtime, ok bool) {
	r, ok = table[id]
	return r, ok
}

// Errors returned by Config methods; test them with errors.Is.
var (
	// ErrUnsupported: the runtime identifier is not in Supported().
	ErrUnsupported = errors.New("unsupported runtime")
	// ErrNative: the runtime is provided.*, which has no shipped bootstrap.
	ErrNative = errors.New("runtime uses the function's own bootstrap executable")
	// ErrInterpreterNotFound: node or python3 is not installed (or not on PATH).
	ErrInterpreterNotFound = errors.New("interpreter not found")
)

// Config selects the local interpreters that run managed runtimes.
type Config struct {
	// Node is the Node.js executable (name looked up on PATH, or a path) for
	// every nodejs*.x runtime. Default "node".
	Node string
	// Python is the Python executable for every python3.x runtime. Default
	// "python3". (Version-named executables are not probed: pyenv-style shims
	// exist on PATH for versions that are not installed.)
	Python string
}

// DefaultConfig returns the defaults RegisterFlags installs.
func DefaultConfig() Config { return Config{Node: "node", Python: "python3"} }

// RegisterFlags registers -runtime-node and -runtime-python on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.Node, "runtime-node", d.Node, "Node.js executable (name on PATH or path) running the nodejs*.x runtimes")
	fs.StringVar(&c.Python, "runtime-python", d.Python, "Python executable (name on PATH or path) running the python3.x runtimes")
}

// Validate checks the configuration. Missing interpreters are not an error
// here (functions of other runtimes still work); Interpreter reports them.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Node) == "" {
		return errors.New("runtimes: -runtime-node must not be empty")
	}
	if strings.TrimSpace(c.Python) == "" {
		return errors.New("runtimes: -runtime-python must not be empty")
	}
	return nil
}

// Interpreter returns the absolute path of the executable that runs r: the
// configured name is looked up on PATH and then asked for its real
// executable (once per process; this also checks Node ≥ 18 / Python ≥ 3.8).
// The error wraps ErrNative for provided runtimes and ErrInterpreterNotFound
// (with the names tried and how to fix it) when nothing is installed.
func (c Config) Interpreter(r Runtime) (string, error) {
	var candidates []string
	switch r.Family {
	case FamilyNode:
		candidates = []string{c.Node}
		if c.Node == "" {
			candidates = []string{"node"}
		}
	case FamilyPython:
		candidates = []string{c.Python}
		if c.Python == "" {
			candidates = []string{"python3"}
		}
	case FamilyProvided:
		return "", fmt.Errorf("runtimes: %s: %w", r.ID, ErrNative)
	default:
		return "", fmt.Errorf("runtimes: %q: %w", r.ID, ErrUnsupported)
	}
	flagName := "-runtime-node"
	if r.Family == FamilyPython {
		flagName = "-runtime-python"
	}
	var probeErr error
	for _, name := range candidates {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		real, err := realExecutable(p, r.Family)
		if err == nil {
			return real, nil
		}
		probeErr = err
	}
	if probeErr != nil {
		return "", fmt.Errorf("runtimes: %s needs %s, which does not run (%v; install it or set %s): %w",
			r.ID, strings.Join(candidates, " or "), probeErr, flagName, ErrInterpreterNotFound)
	}
	return "", fmt.Errorf("runtimes: %s needs %s, which is not installed or not on PATH (install it or set %s): %w",
		r.ID, strings.Join(candidates, " or "), flagName, ErrInterpreterNotFound)
}

// resolved caches realExecutable: path → string or error.
var resolved sync.Map

// realExecutable asks the interpreter found at path for its own executable
// (once per path), so that version-manager shims such as pyenv's, which
// cost hundreds of milliseconds per start, are bypassed on every cold start.
func realExecutable(path string, f Family) (string, error) {
	if v, ok := resolved.Load(path); ok {
		if err, isErr := v.(error); isErr {
			return "", err
		}
		return v.(string), nil
	}
	var args []string
	switch f {
	case FamilyNode:
		args = []string{"-e", "if (+process.versions.node.split('.')[0] < 18) { console.error('Node.js ' + process.version + ' is older than 18'); process.exit(3) } process.stdout.write(process.execPath)"}
	default:
		args = []string{"-c", "import sys\nif sys.version_info < (3, 8): sys.exit('Python %d.%d is older than 3.8' % sys.version_info[:2])\nsys.stdout.write(sys.executable)"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var v any
	switch real := strings.TrimSpace(string(out)); {
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		v = fmt.Errorf("%s: %w: %s", path, err, msg)
	case real == "" || !filepath.IsAbs(real):
		v = fmt.Errorf("%s did not report its executable", path)
	default:
		v = real
	}
	resolved.Store(path, v)
	if err, isErr := v.(error); isErr {
		return "", err
	}
	return v.(string), nil
}

// Bootstrap returns the embedded bootstrap source of a family (nil for
// provided runtimes). The engine normally uses WriteBootstrap instead.
func Bootstrap(f Family) []byte {
	switch f {
	case FamilyNode:
		return slices.Clone(nodeBootstrap)
	case FamilyPython:
		return slices.Clone(pythonBootstrap)
	}
	return nil
}

// WriteBootstrap writes the bootstrap of the managed runtime id into dir
// (created if missing; the file is replaced atomically and only when its
// content differs, so concurrent callers and many environments may share one
// dir) and returns the command that starts it: interpreter path, interpreter
// flags, bootstrap path. The engine runs that command with the working
// directory set to the task root and the environment of lambda.md §3 plus
// Runtime.Env (the bootstraps read AWS_LAMBDA_RUNTIME_API, _HANDLER and
// LAMBDA_TASK_ROOT). Errors wrap ErrUnsupported, ErrNative or
// ErrInterpreterNotFound.
func (c Config) WriteBootstrap(dir, id string) (cmd []string, err error) {
	r, ok := Lookup(id)
	if !ok {
		return nil, fmt.Errorf("runtimes: %q: %w", id, ErrUnsupported)
	}
	interp, err := c.Interpreter(r)
	if err != nil {
		return nil, err
	}
	src := Bootstrap(r.Family)
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("runtimes: bootstrap dir: %w", err)
	}
	path := filepath.Join(absDir, r.BootstrapFile)
	if err := writeIfChanged(path, src); err != nil {
		return nil, err
	}
	switch r.Family {
	case FamilyNode:
		// The flags AWS's Node.js runtime starts node with.
		return []string{interp, "--expose-gc", "--max-http-header-size=81920", path}, nil
	default:
		// -B: no __pycache__ in the code folder (AWS's /var/task is read-only).
		return []string{interp, "-B", path}, nil
	}
}

// WriteBootstrap is DefaultConfig().WriteBootstrap(dir, runtime).
func WriteBootstrap(dir, runtime string) (cmd []string, err error) {
	return DefaultConfig().WriteBootstrap(dir, runtime)
}

func writeIfChanged(path string, src []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, src) {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("runtimes: create bootstrap dir: %w", err)
	}
	f, err := os.CreateTemp(dir, ".bootstrap-*")
	if err != nil {
		return fmt.Errorf("runtimes: write bootstrap: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(src)
	if err := errors.Join(werr, f.Chmod(0o644), f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("runtimes: write bootstrap: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("runtimes: write bootstrap: %w", err)
	}
	return nil
}
