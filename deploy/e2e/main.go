// Command e2e runs the dashboard's end-to-end test against the real system:
// it starts `fluoro up` (given by FLUORO_BIN) on free loopback ports against
// the ClickHouse in FLUORO_TEST_CLICKHOUSE, sends traces from services
// instrumented with aws-xray-sdk-go (deploy/demo) through a UDP relay that
// records every document, deploys a Node.js function through the AWS SDK's
// Lambda client, derives the expected map, filter results and waterfall from
// what was actually sent, and runs the browser test (ui/test/e2e/run.mjs,
// headless Chromium) with that spec. The last line of the browser test is
// "N passed, M failed"; the exit status is non-zero on any failure.
//
// Like the rest of deploy/, it imports nothing of the backend: it talks to
// Fluoro only through the X-Ray daemon protocol and the public HTTP APIs.
//
// With -once it instead sends one instrumented request to the UDP address
// given by -udp and prints its trace id (the browser test's live check).
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/xray"

	"github.com/fluoro/fluoro/deploy/demo"
)

func main() {
	once := flag.Bool("once", false, "send one instrumented request to -udp and print its trace id")
	udp := flag.String("udp", "", "with -once: the collector's UDP address")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var err error
	if *once {
		err = sendOnce(ctx, *udp, log)
	} else {
		err = run(ctx, log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}

// sendOnce sends one request through the demo shop and prints its trace id.
func sendOnce(ctx context.Context, udp string, log *slog.Logger) error {
	rec, err := demo.NewRecorder(udp)
	if err != nil {
		return err
	}
	defer rec.Close()
	shop, err := demo.Start(ctx, demo.Config{DaemonAddr: rec.Addr(), Rate: 1}, log)
	if err != nil {
		return err
	}
	defer shop.Close()
	if _, err := shop.Request(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for id := range rec.Documents() {
			time.Sleep(200 * time.Millisecond) // let the downstream segments leave too
			fmt.Println(id)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the request produced no segment")
}

func freePort() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		u.Close()
		return p, nil
	}
	return 0, errors.New("no free port")
}

func run(ctx context.Context, log *slog.Logger) error {
	bin := os.Getenv("FLUORO_BIN")
	chBase := os.Getenv("FLUORO_TEST_CLICKHOUSE")
	if bin == "" || chBase == "" {
		return errors.New("FLUORO_BIN (the fluoro binary) and FLUORO_TEST_CLICKHOUSE (clickhouse://host:port) are required")
	}
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "fluoro-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return err
		}
	}
	collectorAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	lambdaURL := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	dsn := strings.TrimSuffix(chBase, "/") + fmt.Sprintf("/e2e_%d", time.Now().UnixNano())

	// 1. The whole system, as `fluoro up` runs it.
	upCtx, stopUp := context.WithCancel(ctx)
	defer stopUp()
	up := exec.CommandContext(upCtx, bin, "up", "--clickhouse", dsn, "--data-dir", filepath.Join(work, "data"),
		"--udp-addr", collectorAddr, "--tcp-addr", collectorAddr, "--otlp-addr", fmt.Sprintf("127.0.0.1:%d", ports[3]),
		"--api-addr", strings.TrimPrefix(apiURL, "http://"), "--invoker-addr", strings.TrimPrefix(lambdaURL, "http://"))
	up.Cancel = func() error { return up.Process.Signal(os.Interrupt) }
	up.WaitDelay = 30 * time.Second
	upLog, err := os.Create(filepath.Join(work, "fluoro.log"))
	if err != nil {
		return err
	}
	defer upLog.Close()
	up.Stderr = upLog
	stdout, err := up.StdoutPipe()
	if err != nil {
		return err
	}
	if err := up.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	upDone := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		var seen []byte
		for {
			n, err := stdout.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte("Fluoro is up")) && ready != nil {
				close(ready)
				ready = nil
			}
			if err != nil {
				upDone <- up.Wait()
				return
			}
		}
	}()
	failLog := func(err error) error {
		stopUp()
		b, _ := os.ReadFile(upLog.Name())
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return fmt.Errorf("%w\n--- fluoro log (tail) ---\n%s", err, b)
	}
	select {
	case <-ready:
	case err := <-upDone:
		return failLog(fmt.Errorf("fluoro up exited early: %v", err))
	case <-time.After(90 * time.Second):
		return failLog(errors.New("fluoro up did not start within 90 s"))
	}
	log.Info("fluoro is up", "api", apiURL, "collector", collectorAddr, "lambda", lambdaURL)

	// 2. Traffic from X-Ray-instrumented services, recorded on the way.
	rec, err := demo.NewRecorder(collectorAddr)
	if err != nil {
		return err
	}
	defer rec.Close()
	shop, err := demo.Start(ctx, demo.Config{DaemonAddr: rec.Addr(), Rate: 1, FaultRate: 0.3, ThrottleRate: 0.1, SlowRate: 0.05}, log)
	if err != nil {
		return err
	}
	defer shop.Close()
	for i := 0; i < 40; i++ {
		if _, err := shop.Request(ctx); err != nil {
			return fmt.Errorf("demo request: %w", err)
		}
	}
	creds := credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
	xc := xray.New(xray.Options{Region: "us-east-1", BaseEndpoint: aws.String(apiURL), Credentials: creds})

	// 3. A big trace (1 segment + 10,000 subsegments) sent with PutTraceSegments.
	bigID, err := sendBigTrace(ctx, xc)
	if err != nil {
		return failLog(err)
	}

	// 4. A function, deployed and traced through the Lambda API.
	lc := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(lambdaURL), Credentials: creds})
	if err := deployHello(ctx, lc); err != nil {
		return failLog(fmt.Errorf("deploy function: %w", err))
	}

	// 5. Wait until every recorded trace is searchable.
	sent := rec.Documents()
	if err := waitSearchable(ctx, xc, sent, bigID); err != nil {
		return failLog(err)
	}

	// 6. The spec, derived from what was sent.
	spec, err := buildSpec(ctx, apiURL, sent, bigID, collectorAddr)
	if err != nil {
		return failLog(err)
	}
	specPath := filepath.Join(work, "spec.json")
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		return err
	}
	log.Info("spec written", "path", specPath)

	// 7. The browser test.
	cmd := exec.CommandContext(ctx, "node", "ui/test/e2e/run.mjs")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "FLUORO_E2E_URL="+apiURL, "FLUORO_E2E_SPEC="+specPath)
	if os.Getenv("FLUORO_E2E_ARTIFACTS") == "" {
		cmd.Env = append(cmd.Env, "FLUORO_E2E_ARTIFACTS="+filepath.Join(repo, ".fluoro", "e2e-artifacts"))
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	runErr := cmd.Run()
	stopUp()
	select {
	case <-upDone:
	case <-time.After(40 * time.Second):
	}
	if runErr != nil {
		return failLog(fmt.Errorf("browser test: %w", runErr))
	}
	return nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "ui", "test", "e2e", "run.mjs")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run from inside the repository (no ui/test/e2e/run.mjs above %s)", dir)
		}
	}
}

func sendBigTrace(ctx context.Context, xc *xray.Client) (string, error) {
	now := time.Now()
	traceID := fmt.Sprintf("1-%08x-%024x", now.Unix(), now.UnixNano())
	root := fmt.Sprintf("%016x", now.UnixNano())
	start := float64(now.UnixNano())/1e9 - 2
	docs := []string{fmt.Sprintf(`{"trace_id":%q,"id":%q,"name":"bulk-importer","start_time":%.6f,"end_time":%.6f,"http":{"request":{"method":"POST","url":"http://importer.local/import"},"response":{"status":200}}}`,
		traceID, root, start, start+1.5)}
	for i := 0; i < 10000; i++ {
		s := start + float64(i)*0.0001
		docs = append(docs, fmt.Sprintf(`{"type":"subsegment","trace_id":%q,"parent_id":%q,"id":"%016x","name":"row-%d","start_time":%.6f,"end_time":%.6f}`,
			traceID, root, uint64(0xb000000000000000)+uint64(i), i, s, s+0.00005))
	}
	for i := 0; i < len(docs); i += 500 {
		out, err := xc.PutTraceSegments(ctx, &xray.PutTraceSegmentsInput{TraceSegmentDocuments: docs[i:min(i+500, len(docs))]})
		if err != nil {
			return "", fmt.Errorf("PutTraceSegments: %w", err)
		}
		if len(out.UnprocessedTraceSegments) > 0 {
			return "", fmt.Errorf("PutTraceSegments rejected %d documents, first: %s %s", len(out.UnprocessedTraceSegments),
				aws.ToString(out.UnprocessedTraceSegments[0].ErrorCode), aws.ToString(out.UnprocessedTraceSegments[0].Message))
		}
	}
	return traceID, nil
}

func deployHello(ctx context.Context, lc *lambda.Client) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	f, err := zw.Create("index.mjs")
	if err != nil {
		return err
	}
	io.WriteString(f, "export const handler = async (event) => {\n  console.log('hello from e2e', JSON.stringify(event));\n  return { greeting: 'hello', echo: event };\n};\n")
	if err := zw.Close(); err != nil {
		return err
	}
	_, err = lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName:  aws.String("hello"),
		Runtime:       ltypes.RuntimeNodejs20x,
		Handler:       aws.String("index.handler"),
		Role:          aws.String("arn:aws:iam::000000000000:role/e2e"),
		Code:          &ltypes.FunctionCode{ZipFile: buf.Bytes()},
		TracingConfig: &ltypes.TracingConfig{Mode: ltypes.TracingModeActive},
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
		if err == nil && out.Configuration != nil && out.Configuration.State == ltypes.StateActive {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("function hello did not become Active")
}

func waitSearchable(ctx context.Context, xc *xray.Client, sent map[string]map[string]json.RawMessage, extra ...string) error {
	want := map[string]bool{}
	for id := range sent {
		want[id] = true
	}
	for _, id := range extra {
		want[id] = true
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		found := map[string]bool{}
		p := xray.NewGetTraceSummariesPaginator(xc, &xray.GetTraceSummariesInput{StartTime: aws.Time(time.Now().Add(-10 * time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute))})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("GetTraceSummaries: %w", err)
			}
			for _, s := range page.TraceSummaries {
				found[aws.ToString(s.Id)] = true
			}
		}
		missing := 0
		for id := range want {
			if !found[id] {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d sent traces not searchable after 60 s", missing, len(want))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// doc is what the spec derivation reads of a recorded segment document.
type doc struct {
	ID       string `json:"id"`
	ParentID string `json:"parent_id"`
	Name     string `json:"name"`
	Fault    bool   `json:"fault"`
	Error    bool   `json:"error"`
	Throttle bool   `json:"throttle"`
	HTTP     struct {
		Response struct {
			Status int `json:"status"`
		} `json:"response"`
	} `json:"http"`
	Subsegments []doc `json:"subsegments"`
}

// health classifies one request as X-Ray's map does: fault > throttle > error > ok.
func (d *doc) health() string {
	st := d.HTTP.Response.Status
	switch {
	case d.Fault || (st >= 500 && st < 600):
		return "fault"
	case d.Throttle || st == 429:
		return "throttle"
	case d.Error || (st >= 400 && st < 500):
		return "error"
	}
	return "ok"
}

var healthRank = map[string]int{"ok": 0, "error": 1, "throttle": 2, "fault": 3}

func buildSpec(ctx context.Context, apiURL string, sent map[string]map[string]json.RawMessage, bigID, collectorAddr string) (map[string]any, error) {
	health := map[string]string{}   // service → worst health
	payFault := map[string]bool{}   // traces where payments faulted
	subOwner := map[string]string{} // trace/subsegment id → service
	type seg struct{ trace, service, parent string }
	var segs []seg
	bestTrace, bestCount := "", 0
	for traceID, docs := range sent {
		for _, raw := range docs {
			var d doc
			if err := json.Unmarshal(raw, &d); err != nil {
				return nil, err
			}
			h := d.health()
			if old, ok := health[d.Name]; !ok || healthRank[h] > healthRank[old] {
				health[d.Name] = h
			}
			if d.Name == "payments" && h == "fault" {
				payFault[traceID] = true
			}
			var walk func(s []doc)
			walk = func(s []doc) {
				for i := range s {
					subOwner[traceID+"/"+s[i].ID] = d.Name
					walk(s[i].Subsegments)
				}
			}
			walk(d.Subsegments)
			segs = append(segs, seg{traceID, d.Name, d.ParentID})
		}
		if len(docs) > bestCount {
			bestTrace, bestCount = traceID, len(docs)
		}
	}
	edges := map[[2]string]bool{}
	for _, s := range segs {
		if caller, ok := subOwner[s.trace+"/"+s.parent]; ok && caller != s.service {
			edges[[2]string{caller, s.service}] = true
		}
	}
	var nodes []map[string]any
	names := make([]string, 0, len(health))
	for n := range health {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		node := map[string]any{"name": n, "health": health[n]}
		if t := demo.Origins()[n]; t != "" {
			node["type"] = t
		}
		nodes = append(nodes, node)
	}
	var edgeList []map[string]any
	for e := range edges {
		edgeList = append(edgeList, map[string]any{"source": e[0], "target": e[1]})
	}
	sort.Slice(edgeList, func(i, j int) bool {
		return fmt.Sprint(edgeList[i]) < fmt.Sprint(edgeList[j])
	})
	if len(payFault) == 0 {
		return nil, errors.New("no request faulted at payments; the filter check would be empty")
	}
	var faultIDs []string
	for id := range payFault {
		faultIDs = append(faultIDs, id)
	}
	sort.Strings(faultIDs)
	bad := `service("orders") { fault`
	pos, err := filterErrorPosition(ctx, apiURL, bad)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"description": "Derived by deploy/e2e from the documents the X-Ray SDK actually sent.",
		"map": map[string]any{
			"range": "15m", "nodes": nodes, "edges": edgeList,
			"click": map[string]any{"name": "orders", "type": demo.Origins()["orders"], "timeseries": true,
				"filter": fmt.Sprintf(`service(id(name: "orders", type: %q))`, demo.Origins()["orders"])},
		},
		"badFilter": map[string]any{"expression": bad, "position": pos},
		"filter":    map[string]any{"expression": `service("payments") { fault }`, "range": "15m", "traceIds": faultIDs},
		"trace": map[string]any{
			"id":      bestTrace,
			"nested":  [][2]string{{"orders", "DynamoDB"}, {"inventory", "inventory@db.internal"}},
			"minRows": bestCount,
		},
		"bigTrace":  map[string]any{"id": bigID, "rows": 10001},
		"live":      map[string]any{"command": fmt.Sprintf("%s -once -udp %s", self, collectorAddr), "timeoutMs": 10000},
		"functions": map[string]any{"name": "hello", "payload": map[string]any{"hello": "e2e"}, "expectInResult": "e2e", "expectInLog": "REPORT RequestId"},
	}, nil
}

var posRE = regexp.MustCompile(`at position (\d+)`)

// filterErrorPosition asks the API where it reports the syntax error.
func filterErrorPosition(ctx context.Context, apiURL, expr string) (int, error) {
	body, _ := json.Marshal(map[string]any{"StartTime": time.Now().Add(-time.Hour).Unix(), "EndTime": time.Now().Unix(), "FilterExpression": expr})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/TraceSummaries", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Amzn-ErrorType") != "InvalidRequestException" {
		return 0, fmt.Errorf("bad filter: status %d %s %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b)
	}
	m := posRE.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("bad filter: no position in %s", b)
	}
	return strconv.Atoi(string(m[1]))
}
