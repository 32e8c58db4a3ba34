package alert

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/fluoro/fluoro/schema/chstore"
)

// Config is the user-set configuration of the alerting engine.
type Config struct {
	// RulesFile is a JSON file of rules and receivers (see README.md);
	// its rules are read-only through the API.
	RulesFile string
	// ExternalURL is the dashboard's address used in notification links.
	ExternalURL string
	// WebhookURL, SlackURL and Command add the receivers "webhook",
	// "slack" and "command" without a rules file. Command is split on
	// spaces (no shell).
	WebhookURL, SlackURL, Command string

	// TraceSettle is how long a trace must be quiet (no new documents)
	// before per-trace rules evaluate it.
	TraceSettle time.Duration
	// TraceMaxWait bounds the wait for a trace that keeps changing or has
	// in-progress segments.
	TraceMaxWait time.Duration
	// TraceMemory is how long an evaluated trace is kept so that late
	// documents are evaluated together with what came before.
	TraceMemory time.Duration
	// MaxTraces bounds the traces held; more are dropped and counted.
	MaxTraces int
	// Queue bounds the batches of trace updates (one per stored batch,
	// or one per trace from Observe) waiting for the evaluation; more are
	// dropped and counted (ingestion never waits for alerting).
	Queue int

	// GroupWait delays the first notification of a per-trace alert so a
	// burst is reported at once; GroupInterval is the least time between
	// two notifications of new traces; RepeatInterval re-notifies a
	// still-firing alert (0: never).
	GroupWait, GroupInterval, RepeatInterval time.Duration
	// Samples bounds the sample trace ids of a notification.
	Samples int

	// MaxConcurrentQueries bounds threshold evaluations running at once.
	MaxConcurrentQueries int
	// NotifyTimeout is the default timeout of one delivery attempt;
	// NotifyAttempts the attempts per notification and receiver;
	// NotifyBackoff the first retry delay (doubling, at most 1 min).
	NotifyTimeout  time.Duration
	NotifyAttempts int
	NotifyBackoff  time.Duration
	// NotifyQueue bounds the notifications waiting for one receiver.
	NotifyQueue int

	// FlushInterval is how often state, history and deliveries are
	// written to ClickHouse; ShutdownTimeout bounds the last deliveries
	// and the final flush.
	FlushInterval, ShutdownTimeout time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		ExternalURL:          "http://127.0.0.1:2001",
		TraceSettle:          time.Second,
		TraceMaxWait:         10 * time.Second,
		TraceMemory:          15 * time.Second,
		MaxTraces:            200_000,
		Queue:                8192,
		GroupWait:            500 * time.Millisecond,
		GroupInterval:        30 * time.Second,
		RepeatInterval:       4 * time.Hour,
		Samples:              10,
		MaxConcurrentQueries: 2,
		NotifyTimeout:        10 * time.Second,
		NotifyAttempts:       5,
		NotifyBackoff:        time.Second,
		NotifyQueue:          256,
		FlushInterval:        500 * time.Millisecond,
		ShutdownTimeout:      10 * time.Second,
	}
}

// RegisterFlags registers the engine's flags on fs with DefaultConfig's
// values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.RulesFile, "alert-rules-file", d.RulesFile, "JSON `file` of alerting rules and receivers (read-only through the API)")
	fs.StringVar(&c.ExternalURL, "alert-external-url", d.ExternalURL, "dashboard `URL` used in notification links")
	fs.StringVar(&c.WebhookURL, "alert-webhook-url", d.WebhookURL, "add the receiver \"webhook\": POST the alert JSON to this `URL`")
	fs.StringVar(&c.SlackURL, "alert-slack-url", d.SlackURL, "add the receiver \"slack\": a Slack-compatible incoming-webhook `URL`")
	fs.StringVar(&c.Command, "alert-command", d.Command, "add the receiver \"command\": run this `command` (split on spaces, no shell) with the alert JSON on stdin")
	fs.DurationVar(&c.TraceSettle, "alert-trace-settle", d.TraceSettle, "quiet time of a trace (no new documents) before per-trace rules evaluate it")
	fs.DurationVar(&c.TraceMaxWait, "alert-trace-max-wait", d.TraceMaxWait, "longest wait for a trace that keeps changing or is in progress")
	fs.DurationVar(&c.TraceMemory, "alert-trace-memory", d.TraceMemory, "how long an evaluated trace is kept so late documents are evaluated with the rest")
	fs.IntVar(&c.MaxTraces, "alert-max-traces", d.MaxTraces, "traces held for per-trace rules; more are dropped and counted")
	fs.IntVar(&c.Queue, "alert-queue", d.Queue, "batches of trace updates waiting for evaluation; more are dropped and counted")
	fs.DurationVar(&c.GroupWait, "alert-group-wait", d.GroupWait, "delay of a per-trace alert's first notification, so a burst is one notification")
	fs.DurationVar(&c.GroupInterval, "alert-group-interval", d.GroupInterval, "least time between two notifications of new matching traces")
	fs.DurationVar(&c.RepeatInterval, "alert-repeat-interval", d.RepeatInterval, "re-notify a still-firing alert this often (0: never)")
	fs.IntVar(&c.Samples, "alert-samples", d.Samples, "sample trace ids per notification")
	fs.IntVar(&c.MaxConcurrentQueries, "alert-max-concurrent-queries", d.MaxConcurrentQueries, "threshold-rule evaluations running at once in ClickHouse")
	fs.DurationVar(&c.NotifyTimeout, "alert-notify-timeout", d.NotifyTimeout, "timeout of one delivery attempt (receivers may set their own)")
	fs.IntVar(&c.NotifyAttempts, "alert-notify-attempts", d.NotifyAttempts, "delivery attempts per notification and receiver")
	fs.DurationVar(&c.NotifyBackoff, "alert-notify-backoff", d.NotifyBackoff, "first retry delay of a failed delivery (doubles, at most 1m)")
}

// Validate reports every invalid setting.
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	if c.ExternalURL != "" {
		u, err := url.Parse(c.ExternalURL)
		check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "--alert-external-url %q: want http(s)://host[:port]", c.ExternalURL)
	}
	for _, f := range []struct{ name, v string }{{"--alert-webhook-url", c.WebhookURL}, {"--alert-slack-url", c.SlackURL}} {
		if f.v != "" {
			check(validHTTPURL(f.v), "%s %q: want an http(s) URL", f.name, f.v)
		}
	}
	check(c.TraceSettle >= 0 && c.TraceSettle <= time.Minute, "--alert-trace-settle %v: want 0–1m", c.TraceSettle)
	check(c.TraceMaxWait >= c.TraceSettle && c.TraceMaxWait <= 10*time.Minute, "--alert-trace-max-wait %v: want between --alert-trace-settle and 10m", c.TraceMaxWait)
	check(c.TraceMemory >= 0 && c.TraceMemory <= time.Hour, "--alert-trace-memory %v: want 0–1h", c.TraceMemory)
	check(c.MaxTraces > 0, "--alert-max-traces %d: must be positive", c.MaxTraces)
	check(c.Queue > 0, "--alert-queue %d: must be positive", c.Queue)
	check(c.GroupWait >= 0 && c.GroupInterval >= 0 && c.RepeatInterval >= 0, "alert group wait/interval and repeat interval must not be negative")
	check(c.Samples > 0 && c.Samples <= 1000, "--alert-samples %d: want 1–1000", c.Samples)
	check(c.MaxConcurrentQueries > 0, "--alert-max-concurrent-queries %d: must be positive", c.MaxConcurrentQueries)
	check(c.NotifyTimeout > 0, "--alert-notify-timeout %v: must be positive", c.NotifyTimeout)
	check(c.NotifyAttempts > 0 && c.NotifyAttempts <= 100, "--alert-notify-attempts %d: want 1–100", c.NotifyAttempts)
	check(c.NotifyBackoff >= 0, "--alert-notify-backoff %v: must not be negative", c.NotifyBackoff)
	check(c.NotifyQueue > 0, "alert notify queue %d: must be positive", c.NotifyQueue)
	check(c.FlushInterval > 0, "alert flush interval %v: must be positive", c.FlushInterval)
	check(c.ShutdownTimeout > 0, "alert shutdown timeout %v: must be positive", c.ShutdownTimeout)
	return errors.Join(errs...)
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Store is the persistence the engine needs; *chstore.Store satisfies it.
type Store interface {
	AlertRules(ctx context.Context) ([]chstore.AlertRuleRecord, error)
	PutAlertRule(ctx context.Context, r chstore.AlertRuleRecord) (chstore.AlertRuleRecord, error)
	DeleteAlertRule(ctx context.Context, id string) error
	AlertStates(ctx context.Context) ([]chstore.AlertStateRecord, error)
	PutAlertStates(ctx context.Context, states []chstore.AlertStateRecord) error
	AppendAlertEvents(ctx context.Context, events []chstore.AlertEvent) error
	AlertEvents(ctx context.Context, q chstore.AlertEventQuery) ([]chstore.AlertEvent, error)
	AlertEpisodes(ctx context.Context, q chstore.AlertEpisodeQuery) ([]chstore.AlertEpisode, error)
	AppendAlertDeliveries(ctx context.Context, ds []chstore.AlertDelivery) error
	AlertDeliveries(ctx context.Context, q chstore.AlertDeliveryQuery) ([]chstore.AlertDelivery, error)
	// Group returns an X-Ray group (rules may select traces by group).
	Group(ctx context.Context, nameOrARN string) (chstore.Group, error)
}

// QueryFunc evaluates threshold rules in ClickHouse
// ((*chstore.Store).EvaluateAlerts): results[i] answers qs[i] unless
// errs[i] is set.
type QueryFunc func(ctx context.Context, qs []chstore.AlertQuery) (results []chstore.AlertResult, errs []error)

// Publisher pushes alerts to dashboards; *live.Hub satisfies it.
type Publisher interface {
	Publish(typ string, data any, item any, group string) error
}

// Settings is the developer-set part of the engine: its dependencies.
type Settings struct {
	// Logger receives rare events (nil: discard); never one line per trace.
	Logger *slog.Logger
	// Store persists rules, state, history and deliveries. Required.
	Store Store
	// Query evaluates threshold rules; nil uses Store's EvaluateAlerts
	// when it has one.
	Query QueryFunc
	// Publisher, when set, receives every alert notification as a live
	// "alert" message.
	Publisher Publisher
	// Notifiers overrides how receivers of a type deliver (tests); the
	// key is the receiver type (webhook, slack, command).
	Notifiers map[string]NotifyFunc
}

// splitCommand splits a --alert-command value on spaces.
func splitCommand(s string) []string { return strings.Fields(s) }
