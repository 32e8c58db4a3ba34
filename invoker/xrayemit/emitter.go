package xrayemit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// DaemonHeader is the first line of every datagram.
const DaemonHeader = `{"format": "json", "version": 1}` + "\n"

// MaxDatagram is the largest document datagram the daemon protocol carries.
const MaxDatagram = 64 << 10

// Stats counts what the emitter did.
type Stats struct {
	Sent, Dropped, TooLarge, Failed uint64
}

// UDPEmitter sends documents to an X-Ray daemon address over UDP. Emit never
// blocks: documents are queued and sent by Run. The zero value is not usable;
// call NewUDPEmitter.
type UDPEmitter struct {
	log   *slog.Logger
	conn  net.Conn
	queue chan *Document

	sent, dropped, tooLarge, failed atomic.Uint64
	closeOnce                       sync.Once
}

// NewUDPEmitter resolves addr (host:port) and prepares a UDP socket.
// queueLen bounds the documents waiting to be sent (≥ 1; 4096 if 0).
func NewUDPEmitter(addr string, queueLen int, log *slog.Logger) (*UDPEmitter, error) {
	if queueLen <= 0 {
		queueLen = 4096
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("xrayemit: dial %s: %w", addr, err)
	}
	return &UDPEmitter{log: log, conn: conn, queue: make(chan *Document, queueLen)}, nil
}

// Emit queues doc for sending. The emitter owns doc afterwards. A full
// queue drops doc (counted) rather than block the invocation.
func (e *UDPEmitter) Emit(_ context.Context, doc *Document) error {
	select {
	case e.queue <- doc:
		return nil
	default:
		e.dropped.Add(1)
		return nil
	}
}

// Run sends queued documents until ctx is done, then sends what is still
// queued and closes the socket.
func (e *UDPEmitter) Run(ctx context.Context) error {
	var buf bytes.Buffer
	for {
		select {
		case doc := <-e.queue:
			e.send(&buf, doc)
		case <-ctx.Done():
			for {
				select {
				case doc := <-e.queue:
					e.send(&buf, doc)
				default:
					e.closeOnce.Do(func() { _ = e.conn.Close() })
					return nil
				}
			}
		}
	}
}

func (e *UDPEmitter) send(buf *bytes.Buffer, doc *Document) {
	buf.Reset()
	buf.WriteString(DaemonHeader)
	if err := json.NewEncoder(buf).Encode(doc); err != nil {
		e.failed.Add(1)
		return
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if len(b) > MaxDatagram {
		e.tooLarge.Add(1)
		return
	}
	if _, err := e.conn.Write(b); err != nil {
		// A missing collector (ECONNREFUSED on a connected UDP socket) is
		// normal; count it, never log per document.
		e.failed.Add(1)
		return
	}
	e.sent.Add(1)
}

// Stats returns the emitter's counters.
func (e *UDPEmitter) Stats() Stats {
	return Stats{Sent: e.sent.Load(), Dropped: e.dropped.Load(), TooLarge: e.tooLarge.Load(), Failed: e.failed.Load()}
}

// Marshal returns doc in the daemon wire framing (header line + JSON),
// exactly as the emitter sends it.
func Marshal(doc *Document) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(DaemonHeader)
	if err := json.NewEncoder(&buf).Encode(doc); err != nil {
		return nil, fmt.Errorf("xrayemit: marshal: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
