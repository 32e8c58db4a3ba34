package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/fluoro/fluoro/schema/chserver"
)

func runClickHouse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const summary = "Runs only the managed ClickHouse server until interrupted; prints \"clickhouse ready <dsn>\" once it answers."
	fs := newFlagSet("clickhouse", summary, stderr)
	var lc logConfig
	lc.RegisterFlags(fs)
	cc := chserver.DefaultConfig()
	cc.RegisterFlags(fs)
	if err := parseFlags(fs, args, &lc, &cc); err != nil {
		return err
	}
	log := lc.logger(stderr)
	srv, err := chserver.Start(ctx, cc, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "clickhouse ready", srv.DSN())
	select {
	case <-ctx.Done():
	case <-srv.Done():
		return fmt.Errorf("clickhouse-server exited unexpectedly; log tail:\n%s", srv.LogTail(20))
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), cc.StopTimeout+5*time.Second)
	defer cancel()
	return srv.Stop(stopCtx)
}
