package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"sync"
)

// Recorder is a UDP relay for tests and drivers: the X-Ray SDK sends to
// Addr, the Recorder forwards every datagram unchanged to the collector and
// keeps each document it carried, the ground truth of what was sent.
type Recorder struct {
	conn *net.UDPConn
	out  *net.UDPConn
	done chan struct{}
	mu   sync.Mutex
	docs map[string]map[string]json.RawMessage // trace id → document id → document
}

// NewRecorder relays to the collector's UDP address to.
func NewRecorder(to string) (*Recorder, error) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("recorder: listen: %w", err)
	}
	dst, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("recorder: resolve %q: %w", to, err)
	}
	out, err := net.DialUDP("udp", nil, dst)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("recorder: dial %q: %w", to, err)
	}
	r := &Recorder{conn: pc, out: out, done: make(chan struct{}), docs: map[string]map[string]json.RawMessage{}}
	go r.relay()
	return r, nil
}

func (r *Recorder) relay() {
	defer close(r.done)
	buf := make([]byte, 65536)
	for {
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		if _, body, ok := bytes.Cut(pkt, []byte("\n")); ok {
			var d struct {
				TraceID string `json:"trace_id"`
				ID      string `json:"id"`
			}
			if json.Unmarshal(body, &d) == nil && d.TraceID != "" {
				r.mu.Lock()
				if r.docs[d.TraceID] == nil {
					r.docs[d.TraceID] = map[string]json.RawMessage{}
				}
				r.docs[d.TraceID][d.ID] = body
				r.mu.Unlock()
			}
		}
		_, _ = r.out.Write(pkt)
	}
}

// Addr is the address to give the X-Ray SDK as its daemon address.
func (r *Recorder) Addr() string { return r.conn.LocalAddr().String() }

// Close stops relaying.
func (r *Recorder) Close() {
	r.conn.Close()
	<-r.done
	r.out.Close()
}

// Documents returns a copy of what was sent: trace id → document id → document.
func (r *Recorder) Documents() map[string]map[string]json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := make(map[string]map[string]json.RawMessage, len(r.docs))
	for t, m := range r.docs {
		cp[t] = make(map[string]json.RawMessage, len(m))
		for id, d := range m {
			cp[t][id] = d
		}
	}
	return cp
}
