// Scratch program: captures real aws-xray-sdk-go datagrams on loopback.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/strategy/sampling"
	"github.com/aws/aws-xray-sdk-go/xray"
)

var mu sync.Mutex
var n int

func main() {
	out := os.Args[1]
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			k, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			n++
			os.WriteFile(filepath.Join(out, fmt.Sprintf("dgram-%03d.txt", n)), append([]byte(nil), buf[:k]...), 0o644)
			mu.Unlock()
		}
	}()
	ss, _ := sampling.NewLocalizedStrategyFromJSONBytes([]byte(`{"version":2,"default":{"fixed_target":0,"rate":1.0},"rules":[]}`))
	if err := xray.Configure(xray.Config{DaemonAddr: pc.LocalAddr().String(), SamplingStrategy: ss, ServiceVersion: "1.4.2"}); err != nil {
		panic(err)
	}

	// fake DynamoDB
	ddb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = b
		w.Header().Set("x-amzn-RequestId", "Q1T8SVK9R0ANGJ6KQ5UE3J0GRFVV4KQNSO5AEMVJF66Q9ASUAAJG")
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.PutItem" {
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`)
			return
		}
		io.WriteString(w, `{"Item":{"id":{"S":"o-1"},"total":{"N":"42"}}}`)
	}))
	defer ddb.Close()
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(ddb.URL), RetryMaxAttempts: 1}
	awsv2.AWSV2Instrumentor(&cfg.APIOptions)
	dc := dynamodb.NewFromConfig(cfg)

	inventory := httptest.NewServer(xray.Handler(xray.NewFixedSegmentNamer("inventory"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, `{"in_stock":true}`)
	})))
	defer inventory.Close()
	client := xray.Client(nil)

	orders := httptest.NewServer(xray.Handler(xray.NewFixedSegmentNamer("orders"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		xray.AddAnnotation(ctx, "customer_tier", "gold")
		xray.AddAnnotation(ctx, "items", 3)
		xray.AddAnnotation(ctx, "express", true)
		xray.AddMetadata(ctx, "cart", map[string]any{"skus": []string{"A-1", "B-2"}})
		switch r.URL.Path {
		case "/order":
			_, err := dc.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "o-1"}}})
			if err != nil {
				panic(err)
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", inventory.URL+"/stock/A-1", nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			io.WriteString(w, "ok")
		case "/fail":
			err := xray.Capture(ctx, "save-order", func(ctx context.Context) error {
				_, err := dc.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("missing"), Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "o-1"}}})
				return err
			})
			_ = err
			req, _ := http.NewRequestWithContext(ctx, "GET", inventory.URL+"/boom", nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			w.WriteHeader(500)
		case "/many":
			for i := 0; i < 23; i++ {
				xray.Capture(ctx, fmt.Sprintf("step-%d", i), func(ctx context.Context) error { time.Sleep(time.Millisecond); return nil })
			}
			io.WriteString(w, "ok")
		case "/validate":
			err := xray.Capture(ctx, "validate", func(ctx context.Context) error { return errors.New("quantity must be positive") })
			_ = err
			w.WriteHeader(400)
		}
	})))
	defer orders.Close()
	for _, p := range []string{"/order", "/fail", "/many", "/validate"} {
		req, _ := http.NewRequest("GET", orders.URL+p+"?x=1", nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) capture/1.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}

	// Lambda facade
	os.Setenv("LAMBDA_TASK_ROOT", "/var/task")
	lctx := context.WithValue(context.Background(), xray.LambdaTraceHeaderKey, "Root=1-6745f0a1-3c8a9d2e5f7b1c4d6e8f0a2b;Parent=7a3b9c1d2e4f6081;Sampled=1;Lineage=1:36680206:0")
	func() {
		ctx, seg := xray.BeginSubsegment(lctx, "handle-event")
		xray.AddAnnotation(ctx, "order_id", "o-77")
		_, err := dc.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "o-77"}}})
		if err != nil {
			panic(err)
		}
		seg.Close(nil)
	}()
	time.Sleep(300 * time.Millisecond)
}
