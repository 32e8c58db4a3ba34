package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/fluoro/fluoro/schema"
	"github.com/fluoro/fluoro/schema/chserver"
	"github.com/fluoro/fluoro/schema/chstore"
)

// defaultDatabase is the database Fluoro uses on the managed server.
const defaultDatabase = "fluoro"

// storage is an open ClickHouse: managed or external, migrated, with its
// retention janitor running.
type storage struct {
	dsn     string
	store   *chstore.Store
	server  *chserver.Server // nil for an external server
	janitor *schema.Janitor
	stopJan context.CancelFunc
	janDone chan struct{}
	log     *slog.Logger
	stopTO  time.Duration
}

// openStorage connects to sc.DSN, or starts the managed server when it is
// empty and managed is true; then migrates and starts the retention janitor.
func openStorage(ctx context.Context, log *slog.Logger, sc schema.Config, cc chserver.Config, managed bool) (*storage, error) {
	st := &storage{log: log, stopTO: cc.StopTimeout + 5*time.Second}
	dsn := sc.DSN
	if dsn == "" {
		if !managed {
			return nil, errors.New("--clickhouse is required (clickhouse://host:port/database); `fluoro up` and `fluoro clickhouse` can start a managed server")
		}
		srv, err := chserver.Start(ctx, cc, log)
		if err != nil {
			return nil, err
		}
		st.server = srv
		dsn = withDatabase(srv.DSN(), defaultDatabase)
	}
	st.dsn = dsn
	db := databaseOf(dsn)
	rep, err := schema.MigrateDSN(ctx, dsn, schema.Options{Database: db, Cluster: sc.Cluster, Logger: log.With("component", "migrate")})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate %s: %w", schema.RedactDSN(dsn), err)
	}
	log.Info("schema ready", "clickhouse", schema.RedactDSN(dsn), "server_version", rep.Server.String(), "schema_version", rep.Current, "applied", len(rep.Applied))
	store, err := chstore.Open(ctx, dsn, chstore.Options{Logger: log.With("component", "store")})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	st.store = store
	jan, err := schema.NewJanitor(ctx, dsn, schema.JanitorOptions{Database: db, Cluster: sc.Cluster, Retention: sc.Retention, Interval: sc.JanitorInterval, Logger: log.With("component", "retention")})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("retention janitor: %w", err)
	}
	st.janitor = jan
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.stopJan, st.janDone = cancel, make(chan struct{})
	go func() {
		defer close(st.janDone)
		if err := jan.Run(jctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("retention janitor stopped", "err", err)
		}
	}()
	return st, nil
}

// Close stops the janitor, closes the store and stops a managed server.
func (s *storage) Close() error {
	var errs []error
	if s.stopJan != nil {
		s.stopJan()
		<-s.janDone
	}
	if s.janitor != nil {
		errs = append(errs, s.janitor.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.stopTO)
		defer cancel()
		errs = append(errs, s.server.Stop(ctx))
	}
	return errors.Join(errs...)
}

// withDatabase returns dsn with its path set to db.
func withDatabase(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return strings.TrimSuffix(dsn, "/") + "/" + db
	}
	u.Path = "/" + db
	return u.String()
}

// databaseOf returns the database named by dsn ("default" when none).
func databaseOf(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		if db := strings.Trim(u.Path, "/"); db != "" {
			return db
		}
	}
	return "default"
}
