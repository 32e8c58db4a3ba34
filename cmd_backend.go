package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/fluoro/fluoro/collector"
	"github.com/fluoro/fluoro/collector/sampling"
	"github.com/fluoro/fluoro/collector/segment"
	"github.com/fluoro/fluoro/query/alert"
	"github.com/fluoro/fluoro/query/api"
	"github.com/fluoro/fluoro/query/graphstore"
	"github.com/fluoro/fluoro/query/live"
	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chserver"
	"github.com/fluoro/fluoro/schema/chstore"
	"github.com/fluoro/fluoro/ui"
)

// Compile-time checks that the store satisfies its consumers' interfaces.
var (
	_ collector.Sink  = (*chstore.Store)(nil)
	_ api.TraceReader = (*chstore.Store)(nil)
	_ collector.Sink  = (*live.Feed)(nil)
	_ collector.Sink  = (*alert.Engine)(nil)
	_ sampling.Store  = (*chstore.Store)(nil)
	_ api.GroupStore  = (*chstore.Store)(nil)
)

// flushSampling writes the sampling statistics still buffered (shutdown path).
func flushSampling(log *slog.Logger, samp *sampling.Service) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := samp.Flush(ctx); err != nil {
		log.Warn("flush sampling statistics", "err", err)
	}
}

func init() {
	commands["migrate"] = command{"create or upgrade the ClickHouse schema and exit", runMigrate}
	commands["collector"] = command{"run the collector: X-Ray daemon UDP/TCP protocol into ClickHouse", runCollector}
	commands["query"] = command{"run the X-Ray REST API and the dashboard", runQuery}
}

// teeSink writes to the store first and then hands the same documents to
// best-effort consumers (the live feed), which never fail a batch.
type teeSink struct {
	primary    collector.Sink
	bestEffort []collector.Sink
}

func (t teeSink) WriteDocuments(ctx context.Context, docs []segment.Document) error {
	if err := t.primary.WriteDocuments(ctx, docs); err != nil {
		return err
	}
	for _, s := range t.bestEffort {
		_ = s.WriteDocuments(ctx, docs) // best effort by contract: counts its own drops
	}
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "Creates or upgrades Fluoro's ClickHouse schema (idempotent; safe when several processes run it at once).", stderr)
	var lc logConfig
	lc.RegisterFlags(fs)
	var sc schema.Config
	sc.RegisterFlags(fs)
	if err := parseFlags(fs, args, &lc, &sc); err != nil {
		return err
	}
	if sc.DSN == "" {
		return errors.New("--clickhouse is required, e.g. --clickhouse clickhouse://127.0.0.1:19000/fluoro")
	}
	log := lc.logger(stderr)
	rep, err := schema.MigrateDSN(ctx, sc.DSN, schema.Options{Database: databaseOf(sc.DSN), Cluster: sc.Cluster, Logger: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema version %d on ClickHouse %s (applied %d: %v; waiting for a newer server: %v)\n",
		rep.Current, rep.Server, len(rep.Applied), rep.Applied, rep.Skipped)
	return nil
}

// dataDirFlag is the folder for everything Fluoro keeps on disk.
func defaultDataDir() string {
	if d := os.Getenv("FLUORO_DATA_DIR"); d != "" {
		return d
	}
	return ".fluoro"
}

func runCollector(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("collector", "Receives X-Ray segments (UDP and TCP 2000) and stores them in ClickHouse.", stderr)
	var lc logConfig
	lc.RegisterFlags(fs)
	var sc schema.Config
	sc.RegisterFlags(fs)
	cc := collector.DefaultConfig()
	cc.RegisterFlags(fs)
	if err := parseFlags(fs, args, &lc, &sc, &cc); err != nil {
		return err
	}
	log := lc.logger(stderr)
	st, err := openStorage(ctx, log, sc, chserver.DefaultConfig(), false)
	if err != nil {
		return err
	}
	defer closeLogged(log, "storage", st)
	samp := sampling.New(st.store, sampling.Options{Logger: log.With("component", "sampling")})
	defer flushSampling(log, samp)
	col, err := collector.New(cc, collector.Settings{Logger: log.With("component", "collector"), Sink: st.store, Sampling: samp})
	if err != nil {
		return err
	}
	return col.Run(ctx)
}

func runQuery(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("query", "Serves the X-Ray REST API and the dashboard (port 2001).", stderr)
	var lc logConfig
	lc.RegisterFlags(fs)
	var sc schema.Config
	sc.RegisterFlags(fs)
	ac := api.DefaultConfig()
	ac.RegisterFlags(fs)
	gc := graphstore.DefaultConfig()
	gc.RegisterFlags(fs)
	var uc ui.Config
	uc.RegisterFlags(fs)
	if err := parseFlags(fs, args, &lc, &sc, &ac, &gc, &uc); err != nil {
		return err
	}
	log := lc.logger(stderr)
	st, err := openStorage(ctx, log, sc, chserver.DefaultConfig(), false)
	if err != nil {
		return err
	}
	defer closeLogged(log, "storage", st)
	dash, err := ui.New(uc)
	if err != nil {
		return err
	}
	samp := sampling.New(st.store, sampling.Options{Logger: log.With("component", "sampling")})
	defer flushSampling(log, samp)
	graph, err := graphstore.New(gc, graphstore.Settings{Logger: log.With("component", "graph"), Store: st.store})
	if err != nil {
		return err
	}
	go func() {
		if err := graph.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("service graph refresh stopped", "err", err)
		}
	}()
	var srv *api.Server
	extra := frontMux(nil, nil, nil, dash, func(w io.Writer) { srv.WriteMetrics(w) }, graph.WriteMetrics)
	srv, err = api.New(ac, api.Settings{Logger: log.With("component", "api"), Reader: st.store, Extra: extra, Graph: graph, Groups: st.store, Sampling: samp})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// closeLogged closes c and logs a failure (shutdown path: nothing to return to).
func closeLogged(log *slog.Logger, what string, c io.Closer) {
	if err := c.Close(); err != nil {
		log.Error("close "+what, "err", err)
	}
}

// frontMux routes the API port's non-X-Ray paths: the collector's endpoints
// (so an AWS SDK pointed at :2001 can also PutTraceSegments), the live
// websocket, the invoker proxy and the dashboard.
func frontMux(col *collector.Collector, hub *live.Hub, lambda http.Handler, dash http.Handler, metricsTo ...func(io.Writer)) http.Handler {
	mux := http.NewServeMux()
	if col != nil {
		for _, p := range []string{"/TraceSegments", "/TelemetryRecords", "/GetSamplingRules", "/SamplingTargets"} {
			mux.Handle(p, col.Handler())
		}
		metricsTo = append(metricsTo, col.WriteMetrics)
	}
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		for _, f := range metricsTo {
			f(w)
		}
		metrics.WriteProcessMetrics(w)
	})
	if hub != nil {
		mux.Handle("/ws", hub)
	}
	if lambda != nil {
		mux.Handle("/lambda/", http.StripPrefix("/lambda", lambda))
	}
	mux.Handle("/", dash)
	return mux
}

// spoolDir puts the collector's spool inside the data folder unless set.
func spoolDirIn(dataDir string, cc *collector.Config) {
	if cc.SpoolDir == collector.DefaultConfig().SpoolDir {
		cc.SpoolDir = filepath.Join(dataDir, "spool")
	}
}
