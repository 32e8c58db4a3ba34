package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Receiver types.
const (
	ReceiverWebhook = "webhook"
	ReceiverSlack   = "slack"
	ReceiverCommand = "command"
)

// Receiver is where notifications go: a generic webhook (the Notification
// JSON), a Slack-compatible incoming webhook, or a command run with the
// Notification JSON on stdin. Receivers come from the rules file and the
// --alert-* flags only: the REST API cannot create them (a command
// receiver runs programs).
type Receiver struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// URL (webhook, slack) and extra request Headers (webhook).
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Command (command): program and arguments, no shell.
	Command []string `json:"command,omitempty"`
	// Timeout of one attempt (default --alert-notify-timeout).
	Timeout Duration `json:"timeout,omitempty"`
	// MaxAttempts per notification (default --alert-notify-attempts).
	MaxAttempts int `json:"max_attempts,omitempty"`
}

func (r *Receiver) validate() error {
	if !idPattern.MatchString(r.Name) {
		return fmt.Errorf("receiver name %q: 1–64 letters, digits, '_', '-' or '.'", r.Name)
	}
	switch r.Type {
	case ReceiverWebhook, ReceiverSlack:
		if !validHTTPURL(r.URL) {
			return fmt.Errorf("receiver %q: url %q is not an http(s) URL", r.Name, r.URL)
		}
		if len(r.Command) > 0 {
			return fmt.Errorf("receiver %q: command is only for type command", r.Name)
		}
	case ReceiverCommand:
		if len(r.Command) == 0 || r.Command[0] == "" {
			return fmt.Errorf("receiver %q: command needs at least the program", r.Name)
		}
		if r.URL != "" {
			return fmt.Errorf("receiver %q: url is not used by type command", r.Name)
		}
	default:
		return fmt.Errorf("receiver %q: unknown type %q: want webhook, slack or command", r.Name, r.Type)
	}
	if r.Timeout < 0 || r.MaxAttempts < 0 || r.MaxAttempts > 100 {
		return fmt.Errorf("receiver %q: timeout must not be negative and max_attempts must be 0–100", r.Name)
	}
	return nil
}

// ReceiverInfo describes a receiver without secrets (the API shows it):
// webhook URLs are reduced to scheme and host, commands to the program.
type ReceiverInfo struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Target string `json:"target"`
}

func (r *Receiver) info() ReceiverInfo {
	target := ""
	switch r.Type {
	case ReceiverCommand:
		target = r.Command[0]
	default:
		if u, err := url.Parse(r.URL); err == nil {
			target = u.Scheme + "://" + u.Host + "/…"
		}
	}
	return ReceiverInfo{Name: r.Name, Type: r.Type, Target: target}
}

// Notification is the JSON document a webhook receives (POST, Content-Type
// application/json) and a command reads on stdin. It is documented in
// README.md; Version changes only with incompatible changes.
type Notification struct {
	// Version of this format: "1".
	Version string `json:"version"`
	// ID identifies the notification; retries and re-deliveries after a
	// restart carry the same ID (receivers may deduplicate on it).
	ID string `json:"id"`
	// State is firing or resolved.
	State string `json:"state"`
	// Update is true for a firing notification about an alert already
	// notified (new matching traces, or a repeat).
	Update bool              `json:"update"`
	Rule   NotificationRule  `json:"rule"`
	Alert  NotificationAlert `json:"alert"`
	Counts Counts            `json:"counts"`
	// SampleTraceIDs are traces behind the alert (for per-trace rules, the
	// new matching traces since the previous notification).
	SampleTraceIDs   []string    `json:"sample_trace_ids"`
	RootCauseService *ServiceRef `json:"root_cause_service,omitempty"`
	Links            Links       `json:"links"`
	// Time is when the notification was created.
	Time time.Time `json:"time"`
}

// NotificationRule is the rule part of a notification.
type NotificationRule struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Severity    string            `json:"severity"`
	Description string            `json:"description,omitempty"`
	Filter      string            `json:"filter,omitempty"`
	Group       string            `json:"group,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// NotificationAlert is the alert (episode) part of a notification.
type NotificationAlert struct {
	// ID identifies the episode from firing to resolved (also the X-Ray
	// InsightId).
	ID       string    `json:"id"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// Value is what was compared with Threshold (count, ratio, seconds;
	// for per-trace rules the number of matching traces).
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Summary is one human-readable line.
	Summary string `json:"summary"`
	// Seq numbers the notifications of the episode (1, 2, …).
	Seq int `json:"seq"`
}

// Counts are the numbers behind an alert.
type Counts struct {
	// Matching: matching traces (trace, count), faulting or erroring
	// traces (ratio), requests above the threshold (latency).
	Matching uint64 `json:"matching"`
	// Total: the population (traces through the service or edge,
	// measured requests); for per-trace and count rules equal to
	// Matching.
	Total uint64 `json:"total"`
	// New (per-trace rules): matching traces since the previous
	// notification.
	New uint64 `json:"new"`
}

// ServiceRef names a service node.
type ServiceRef struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// Links point into the dashboard.
type Links struct {
	// Alert is the dashboard's alerts page for the rule.
	Alert string `json:"alert"`
	// Traces lists the rule's traces (/traces?filter=…).
	Traces string `json:"traces"`
	// Samples are /traces/<id> for each sample trace id.
	Samples []string `json:"samples"`
}

// NotifyFunc delivers one notification to one receiver. It returns the
// HTTP status when there is one; an error means the attempt failed and
// may be retried.
type NotifyFunc func(ctx context.Context, rc *Receiver, n *Notification) (httpStatus int, err error)

// httpClient does not follow redirects to other hosts silently and has no
// overall timeout (the attempt's context bounds it).
var httpClient = &http.Client{
	Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute,
		ResponseHeaderTimeout: time.Minute},
}

// NotifyWebhook POSTs the notification JSON to rc.URL with rc.Headers and
// the header X-Fluoro-Notification-Id; any 2xx is success.
func NotifyWebhook(ctx context.Context, rc *Receiver, n *Notification) (int, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return 0, fmt.Errorf("encode notification: %w", err)
	}
	return post(ctx, rc, body, map[string]string{"X-Fluoro-Notification-Id": n.ID})
}

// NotifySlack POSTs a Slack incoming-webhook message (text with mrkdwn
// links, and one colored attachment with the details).
func NotifySlack(ctx context.Context, rc *Receiver, n *Notification) (int, error) {
	body, err := json.Marshal(slackMessage(n))
	if err != nil {
		return 0, fmt.Errorf("encode slack message: %w", err)
	}
	return post(ctx, rc, body, nil)
}

func post(ctx context.Context, rc *Receiver, body []byte, extra map[string]string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rc.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Fluoro-Alerting/1")
	for k, v := range rc.Headers {
		req.Header.Set(k, v)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", redactURL(rc.URL), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := strings.TrimSpace(string(snippet))
		if msg != "" {
			msg = ": " + msg
		}
		return resp.StatusCode, fmt.Errorf("POST %s: HTTP %d%s", redactURL(rc.URL), resp.StatusCode, msg)
	}
	return resp.StatusCode, nil
}

// redactURL keeps scheme, host and path (Slack webhook tokens live in the
// path, so only its first element is kept).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<invalid url>"
	}
	p := strings.Trim(u.Path, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i] + "/…"
	}
	return u.Scheme + "://" + u.Host + "/" + p
}

// NotifyCommand runs rc.Command with the notification JSON on stdin and
// FLUORO_ALERT_STATE, FLUORO_ALERT_RULE, FLUORO_ALERT_ID and
// FLUORO_NOTIFICATION_ID in the environment; exit status 0 is success.
// The attempt's context kills it when it runs too long.
func NotifyCommand(ctx context.Context, rc *Receiver, n *Notification) (int, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return 0, fmt.Errorf("encode notification: %w", err)
	}
	cmd := exec.CommandContext(ctx, rc.Command[0], rc.Command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(os.Environ(), "FLUORO_ALERT_STATE="+n.State, "FLUORO_ALERT_RULE="+n.Rule.ID,
		"FLUORO_ALERT_ID="+n.Alert.ID, "FLUORO_NOTIFICATION_ID="+n.ID)
	var out limitedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			msg = ": " + msg
		}
		return 0, fmt.Errorf("command %s: %w%s", rc.Command[0], err, msg)
	}
	return 0, nil
}

// limitedBuffer keeps the first 512 bytes written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 512 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

// slackMessage renders n for a Slack incoming webhook.
func slackMessage(n *Notification) map[string]any {
	icon, color := ":rotating_light:", "#d93025"
	switch {
	case n.State == StateResolved:
		icon, color = ":white_check_mark:", "#2e7d32"
	case n.Rule.Severity == SeverityWarning:
		icon, color = ":warning:", "#f9a825"
	case n.Rule.Severity == SeverityInfo:
		icon, color = ":information_source:", "#1e88e5"
	}
	title := fmt.Sprintf("%s [%s] %s", icon, strings.ToUpper(n.State), n.Rule.Name)
	text := fmt.Sprintf("%s\n%s", title, slackEscape(n.Alert.Summary))
	var lines []string
	lines = append(lines, fmt.Sprintf("*Severity:* %s   *Rule:* `%s`", n.Rule.Severity, slackEscape(n.Rule.ID)))
	if n.RootCauseService != nil {
		lines = append(lines, "*Root cause service:* "+slackEscape(n.RootCauseService.Name))
	}
	if len(n.Links.Samples) > 0 {
		var ids []string
		for i, l := range n.Links.Samples {
			ids = append(ids, "<"+l+"|"+slackEscape(n.SampleTraceIDs[i])+">")
		}
		lines = append(lines, "*Sample traces:* "+strings.Join(ids, ", "))
	}
	lines = append(lines, "<"+n.Links.Traces+"|Matching traces> · <"+n.Links.Alert+"|Alert in Fluoro>")
	return map[string]any{
		"text": text,
		"attachments": []map[string]any{{
			"color":     color,
			"title":     n.Rule.Name,
			"text":      strings.Join(lines, "\n"),
			"mrkdwn_in": []string{"text"},
			"ts":        n.Time.Unix(),
		}},
	}
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// notificationLinks fills n.Links from the dashboard's address.
func notificationLinks(base string, n *Notification, expr string) {
	base = strings.TrimSuffix(base, "/")
	n.Links.Alert = base + "/alerts?rule=" + url.QueryEscape(n.Rule.ID)
	n.Links.Traces = base + "/traces"
	if expr != "" {
		n.Links.Traces += "?filter=" + url.QueryEscape(expr)
	}
	n.Links.Samples = make([]string, len(n.SampleTraceIDs))
	for i, id := range n.SampleTraceIDs {
		n.Links.Samples[i] = base + "/traces/" + url.PathEscape(id)
	}
}
