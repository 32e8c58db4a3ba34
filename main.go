// Command fluoro is Fluoro's single binary: an X-Ray-compatible tracing
// backend (collector, ClickHouse schema, query API, dashboard) and a
// Lambda-compatible invoker. Each component can run alone, or all of them
// together with `fluoro up`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one subcommand of the binary.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"version": {"print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
		fmt.Fprintln(stdout, "fluoro", version)
		return nil
	}},
	"clickhouse": {"run only the managed ClickHouse server (for tests and tools)", runClickHouse},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Fluoro %s: X-Ray-compatible tracing with a Lambda-compatible invoker.\n\n", version)
	fmt.Fprintln(w, "usage: fluoro <command> [flags]   (every flag also reads FLUORO_<FLAG_NAME>, e.g. FLUORO_UDP_ADDR)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\n`fluoro <command> -h` lists a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fluoro: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "fluoro %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// newFlagSet returns a flag set for one subcommand that prints its usage to
// stderr.
func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fluoro "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fluoro %s [flags]\n\n%s\n\nflags (each also read from FLUORO_<NAME>):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}
