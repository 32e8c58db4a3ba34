package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/fluoro/fluoro/collector"
	"github.com/fluoro/fluoro/collector/sampling"
	"github.com/fluoro/fluoro/deploy/demo"
	"github.com/fluoro/fluoro/query/alert"
	"github.com/fluoro/fluoro/query/api"
	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/query/live"
	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chserver"
	"github.com/fluoro/fluoro/ui"
)

func init() {
	commands["up"] = command{"run everything in one process (managed ClickHouse unless --clickhouse), optionally with a demo workload", runUp}
}

// upConfig is the configuration of `fluoro up` beyond its components'.
type upConfig struct {
	DataDir   string
	Demo      bool
	demo      demo.Config
	functions demo.FunctionsConfig
}

func (c *upConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", defaultDataDir(), "folder for everything Fluoro keeps on disk (managed ClickHouse, spool, invoker state)")
	fs.BoolVar(&c.Demo, "demo", false, "also run the demo workload: instrumented services sending realistic traces")
	c.demo.RegisterFlags(fs)
	c.functions = demo.DefaultFunctionsConfig()
	c.functions.RegisterFlags(fs) // validated in runDemo, once the invoker's endpoint is known
}

func (c *upConfig) Validate() error {
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if c.Demo {
		return c.demo.Validate()
	}
	return nil
}

func runUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("up", "Runs every component in one process: managed ClickHouse (unless --clickhouse), collector, X-Ray API, dashboard, live updates and the invoker.", stderr)
	var lc logConfig
	lc.RegisterFlags(fs)
	var uc upConfig
	uc.RegisterFlags(fs)
	var sc schema.Config
	sc.RegisterFlags(fs)
	chc := chserver.DefaultConfig()
	chc.RegisterFlags(fs)
	cc := collector.DefaultConfig()
	cc.RegisterFlags(fs)
	ac := api.DefaultConfig()
	ac.RegisterFlags(fs)
	gc := graphstore.DefaultConfig()
	gc.RegisterFlags(fs)
	alc := alert.DefaultConfig()
	alc.RegisterFlags(fs)
	var dc ui.Config
	dc.RegisterFlags(fs)
	ic := newInvokerConfig()
	ic.RegisterFlags(fs)
	if err := parseFlags(fs, args, &lc, &uc, &sc, &chc, &cc, &ac, &gc, &alc, &dc, ic); err != nil {
		return err
	}
	if !flagSet(fs, "clickhouse-dir") {
		chc.Dir = uc.DataDir + "/clickhouse"
	}
	spoolDirIn(uc.DataDir, &cc)
	ic.setDataDir(uc.DataDir)
	ic.pointAt(cc.UDPAddr, cc.TCPAddr)
	log := lc.logger(stderr)

	st, err := openStorage(ctx, log, sc, chc, true)
	if err != nil {
		return err
	}
	defer closeLogged(log, "storage", st)

	samp := sampling.New(st.store, sampling.Options{Logger: log.With("component", "sampling")})
	defer flushSampling(log, samp)
	hub := live.NewHub(live.DefaultHubConfig(), log, live.CompileFilter)
	feed := live.NewFeed(live.DefaultFeedConfig(), hub, log)
	eng, err := alert.New(alc, alert.Settings{Logger: log.With("component", "alerting"), Store: st.store, Publisher: hub})
	if err != nil {
		return err
	}
	col, err := collector.New(cc, collector.Settings{
		Logger: log.With("component", "collector"),
		Sink:   teeSink{primary: st.store, bestEffort: []collector.Sink{feed}},
		// Per-trace alert rules see each batch before it is stored, so
		// their latency does not include ClickHouse's insert backlog.
		Observers: []collector.Observer{eng},
		Sampling:  samp,
	})
	if err != nil {
		return err
	}
	inv, err := ic.build(log)
	if err != nil {
		return err
	}
	dash, err := ui.New(dc)
	if err != nil {
		return err
	}
	var lambda http.Handler
	if inv != nil {
		lambda = inv.handler()
	}
	graph, err := graphstore.New(gc, graphstore.Settings{Logger: log.With("component", "graph"), Store: st.store})
	if err != nil {
		return err
	}
	var srv *api.Server
	extra := frontMux(col, hub, lambda, dash, func(w io.Writer) { srv.WriteMetrics(w) }, eng.WriteMetrics, graph.WriteMetrics)
	srv, err = api.New(ac, api.Settings{Logger: log.With("component", "api"), Reader: st.store, Extra: extra, Graph: graph, Groups: st.store, Sampling: samp, Alerts: eng})
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	start := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	start("collector", col.Run)
	start("api", srv.Run)
	start("graph", graph.Run)
	start("alerting", eng.Run)
	start("live hub", hub.Run)
	start("live feed", feed.Run)
	if inv != nil {
		start("invoker", inv.run)
	}
	if st.server != nil {
		start("clickhouse watch", func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return nil
			case <-st.server.Done():
				return fmt.Errorf("managed clickhouse-server exited; log tail:\n%s", st.server.LogTail(20))
			}
		})
	}
	select {
	case <-col.Ready():
	case <-runCtx.Done():
	}
	fmt.Fprintf(stdout, "Fluoro is up: dashboard and X-Ray API http://%s/  segments udp://%s  ClickHouse %s\n",
		ac.Addr, cc.UDPAddr, schema.RedactDSN(st.dsn))
	if inv != nil {
		fmt.Fprintf(stdout, "Lambda API http://%s/\n", ic.addr())
	}
	if uc.Demo {
		start("demo", func(ctx context.Context) error { return runDemo(ctx, log, uc.demo, uc.functions, cc.UDPAddr, inv) })
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	log.Info("fluoro stopped")
	return errors.Join(errs...)
}

// runDemo drives the demo shop and, when the invoker runs, deploys and drives
// the demo Lambda functions through its public API.
func runDemo(ctx context.Context, log *slog.Logger, dc demo.Config, fc demo.FunctionsConfig, udpAddr string, inv *invokerRuntime) error {
	dc.DaemonAddr = udpAddr
	shop, err := demo.Start(ctx, dc, log.With("component", "demo"))
	if err != nil {
		return err
	}
	defer shop.Close()
	if inv != nil {
		fc.LambdaEndpoint = inv.endpoint()
		fc.FaultRate, fc.ThrottleRate, fc.SlowRate = dc.FaultRate, dc.ThrottleRate, dc.SlowRate
		go func() {
			if err := demo.RunFunctions(ctx, fc, log.With("component", "demo-functions")); err != nil {
				log.Warn("demo functions stopped", "err", err)
			}
		}()
	}
	log.Info("demo workload running", "rate", dc.Rate, "entry", shop.FrontendURL)
	err = shop.Drive(ctx)
	// Let the last segments leave before the collector stops.
	time.Sleep(100 * time.Millisecond)
	return err
}

// flagSet reports whether name was given on the command line or through
// the environment.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}
