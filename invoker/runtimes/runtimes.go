package runtimes

import (
	"bytes"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
	// Python is the Python executable for every python3.x runtime. Empty (the
	// default) means: "python3.N" on PATH when it exists for runtime python3.N,
	// else "python3".
	Python string
}

// DefaultConfig returns the defaults RegisterFlags installs.
func DefaultConfig() Config { return Config{Node: "node"} }

// RegisterFlags registers -runtime-node and -runtime-python on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.Node, "runtime-node", d.Node, "Node.js executable (name on PATH or path) running the nodejs*.x runtimes")
	fs.StringVar(&c.Python, "runtime-python", d.Python, "Python executable running the python3.x runtimes (default: python3.N when on PATH, else python3)")
}

// Validate checks the configuration. Missing interpreters are not an error
// here (functions of other runtimes still work); Interpreter reports them.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Node) == "" {
		return errors.New("runtimes: -runtime-node must not be empty")
	}
	return nil
}

// Interpreter returns the absolute path of the executable that runs r.
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
		if c.Python != "" {
			candidates = []string{c.Python}
		} else {
			candidates = []string{r.ID /* "python3.N" */, "python3"}
		}
	case FamilyProvided:
		return "", fmt.Errorf("runtimes: %s: %w", r.ID, ErrNative)
	default:
		return "", fmt.Errorf("runtimes: %q: %w", r.ID, ErrUnsupported)
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			if abs, err := filepath.Abs(p); err == nil {
				return abs, nil
			}
			return p, nil
		}
	}
	flagName := "-runtime-node"
	if r.Family == FamilyPython {
		flagName = "-runtime-python"
	}
	return "", fmt.Errorf("runtimes: %s needs %s, which is not installed or not on PATH (install it or set %s): %w",
		r.ID, strings.Join(candidates, " or "), flagName, ErrInterpreterNotFound)
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
