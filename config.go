package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// envName maps a flag name to its environment override: "udp-addr" →
// "FLUORO_UDP_ADDR".
func envName(flagName string) string {
	return "FLUORO_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(flagName))
}

// applyEnv sets every flag of fs that was not given on the command line from
// its FLUORO_* environment variable, if that is set. Command-line flags win.
// It is the one place where environment variables become configuration.
func applyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("environment %s=%q: %w", name, v, e)
		}
	})
	return err
}

// logConfig is the logging configuration shared by every subcommand.
type logConfig struct {
	Format string
	Level  string
}

func (c *logConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Format, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.Level, "log-level", "info", "log level: debug, info, warn or error")
}

func (c *logConfig) Validate() error {
	if c.Format != "text" && c.Format != "json" {
		return fmt.Errorf("log-format %q: want text or json", c.Format)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); err != nil {
		return fmt.Errorf("log-level %q: %w", c.Level, err)
	}
	return nil
}

// logger builds the process's one logger; libraries receive it (never
// slog.SetDefault).
func (c *logConfig) logger(w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.Level)) // validated before
	opts := &slog.HandlerOptions{Level: l}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// validator is what every component configuration offers.
type validator interface{ Validate() error }

// parseFlags parses args into fs, applies environment overrides and validates
// every configuration.
func parseFlags(fs *flag.FlagSet, args []string, cfgs ...validator) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := applyEnv(fs, os.LookupEnv); err != nil {
		return err
	}
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	return nil
}
