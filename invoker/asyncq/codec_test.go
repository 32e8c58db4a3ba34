package asyncq

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func sampleCompletion() Completion {
	return Completion{
		Event: Event{ID: "8476a536-e9f4-11e8-9739-2dfe598c3fcd", Function: "fn", Qualifier: "live",
			Payload: []byte(`{"a":1}`), ClientContext: `{"custom":{}}`, TraceHeader: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
			Meta: map[string]string{"b": "2", "a": "1"}, Seq: 7, EnqueuedAt: time.Date(2019, 11, 14, 18, 16, 5, 568e6, time.UTC), Attempts: 3},
		Condition: ConditionRetriesExhausted, Attempts: 3,
		Result: Result{Kind: FunctionError, StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled",
			Payload: []byte(`{"errorMessage":"boom","errorType":"Error","stackTrace":[]}`)},
		Time: time.Date(2019, 11, 14, 18, 20, 5, 568e6, time.UTC),
	}
}

func TestCodecRoundTrip(t *testing.T) {
	c := sampleCompletion()
	got, err := decodeCompletion(encodeCompletion(&c))
	c.Event.Attempts = 0 // not stored with the event
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("completion round trip:\n got %+v, %v\nwant %+v", got, err, c)
	}
	st := state{attempts: 2, throttles: 1, due: c.Time, last: c.Result}
	id, gotSt, err := decodeState(encodeState("x", &st))
	if err != nil || id != "x" || !reflect.DeepEqual(gotSt, st) {
		t.Errorf("state round trip: %+v, %v", gotSt, err)
	}
	if id, err := decodeDone(encodeDone("x")); err != nil || id != "x" {
		t.Errorf("done round trip: %q, %v", id, err)
	}
	// Every truncation of a body is rejected, never a panic.
	body := encodeEvent(&c.Event)
	for i := range body {
		if _, err := decodeEvent(body[:i]); err == nil {
			t.Errorf("truncated event body of %d bytes decoded", i)
		}
	}
}

func TestFrame(t *testing.T) {
	frame := appendFrame(nil, recDone, encodeDone("abc"))
	typ, body, n, err := readFrame(bytes.NewReader(frame), nil)
	if err != nil || typ != recDone || n != int64(len(frame)) {
		t.Fatalf("readFrame = %c, %d, %v", typ, n, err)
	}
	if id, _ := decodeDone(body); id != "abc" {
		t.Errorf("id %q", id)
	}
	for i := range frame {
		bad := append([]byte(nil), frame...)
		bad[i] ^= 0x01
		if _, _, _, err := readFrame(bytes.NewReader(bad), nil); err == nil {
			t.Errorf("bit flip at %d not detected", i)
		}
	}
}

func TestInvocationRecord(t *testing.T) {
	c := sampleCompletion()
	got, err := json.Marshal(c.Record("arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"1.0","timestamp":"2019-11-14T18:20:05.568Z","requestContext":{"requestId":"8476a536-e9f4-11e8-9739-2dfe598c3fcd",` +
		`"functionArn":"arn:aws:lambda:us-east-1:123456789012:function:fn:$LATEST","condition":"RetriesExhausted","approximateInvokeCount":3},` +
		`"requestPayload":{"a":1},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},` +
		`"responsePayload":{"errorMessage":"boom","errorType":"Error","stackTrace":[]}}`
	if string(got) != want {
		t.Errorf("record:\n got %s\nwant %s", got, want)
	}
	// Non-JSON payloads become JSON strings; expired events carry no response.
	c.Event.Payload = []byte("plain text")
	c.Attempts, c.Result, c.Condition = 0, Result{}, ConditionEventAgeExceeded
	got, _ = json.Marshal(c.Record("arn"))
	want = `{"version":"1.0","timestamp":"2019-11-14T18:20:05.568Z","requestContext":{"requestId":"8476a536-e9f4-11e8-9739-2dfe598c3fcd",` +
		`"functionArn":"arn","condition":"EventAgeExceeded","approximateInvokeCount":0},"requestPayload":"plain text","responseContext":{}}`
	if string(got) != want {
		t.Errorf("record:\n got %s\nwant %s", got, want)
	}
}

// FuzzDecode feeds arbitrary record bodies to every decoder.
func FuzzDecode(f *testing.F) {
	c := sampleCompletion()
	f.Add(encodeEvent(&c.Event))
	f.Add(encodeCompletion(&c))
	st := state{attempts: 1, last: c.Result}
	f.Add(encodeState("id", &st))
	f.Add(encodeDone("id"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if ev, err := decodeEvent(b); err == nil {
			if again, err := decodeEvent(encodeEvent(&ev)); err != nil || !reflect.DeepEqual(normalize(again), normalize(ev)) {
				t.Errorf("event does not round-trip: %+v", ev)
			}
		}
		decodeState(b)
		decodeDone(b)
		decodeCompletion(b)
	})
}

func normalize(ev Event) Event {
	if len(ev.Meta) == 0 {
		ev.Meta = nil
	}
	if len(ev.Payload) == 0 {
		ev.Payload = nil
	}
	return ev
}

// FuzzReplay opens a queue whose log segment holds arbitrary bytes: Open
// must recover (skipping damage) and never panic.
func FuzzReplay(f *testing.F) {
	c := sampleCompletion()
	good := appendFrame(nil, recEvent, encodeEvent(&c.Event))
	st := state{attempts: 1}
	good = appendFrame(good, recState, encodeState(c.Event.ID, &st))
	f.Add(good)
	f.Add(append(good, good[:10]...))
	f.Add(appendFrame(good, recDone, encodeDone(c.Event.ID)))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, seg []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		q, err := Open(dir, DefaultConfig(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		q.Pending("")
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
