package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxHeaderBytes is the header limit when Server.MaxHeaderBytes is 0
// (net/http's DefaultMaxHeaderBytes).
const DefaultMaxHeaderBytes = 1 << 20

// Server serves Handler on the listeners given to Serve. Set the fields
// before the first Serve and do not change them afterwards.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's header once its first
	// byte arrived; IdleTimeout bounds the wait for the next request on a
	// kept-alive connection. 0 means no limit. They are checked by a sweep
	// every quarter of the shorter one (at most every second), so a
	// connection is closed up to that much later.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and header (0:
	// DefaultMaxHeaderBytes); larger ones are answered 431.
	MaxHeaderBytes int
	// Logger receives handler panics (nil: discarded).
	Logger *slog.Logger

	initOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	now      atomic.Int64 // UnixNano, refreshed by the sweep

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	sweeping  bool
	stopSweep chan struct{}
	closing   atomic.Bool
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.stopSweep = make(chan struct{})
		s.now.Store(time.Now().UnixNano())
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Serve accepts connections on ln and serves each on its own goroutine
// until Shutdown; it then returns http.ErrServerClosed. Other accept errors
// end it (temporary ones are retried with a back-off). ln is closed when
// Serve returns.
func (s *Server) Serve(ln net.Listener) error {
	s.init()
	if s.Handler == nil {
		return errors.New("httpserve: nil Handler")
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return http.ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.startSweep()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.Logger.Debug("accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("httpserve: accept: %w", err)
		}
		backoff = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			_ = nc.Close()
			return http.ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go c.serve()
	}
}

// isTemporary reports accept errors worth retrying (EMFILE, ECONNABORTED
// and the like, which net/http's server retries too).
func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// startSweep starts the timeout sweep once (s.mu held).
func (s *Server) startSweep() {
	if s.sweeping || (s.ReadHeaderTimeout <= 0 && s.IdleTimeout <= 0) {
		return
	}
	s.sweeping = true
	period := time.Second
	for _, d := range []time.Duration{s.ReadHeaderTimeout, s.IdleTimeout} {
		if d > 0 {
			period = min(period, max(d/4, 5*time.Millisecond))
		}
	}
	go s.sweep(period)
}

func (s *Server) sweep(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stopSweep:
			return
		case now := <-t.C:
			n := now.UnixNano()
			s.now.Store(n)
			s.mu.Lock()
			for c := range s.conns {
				st, since := c.load()
				switch {
				case st == stateIdle && s.IdleTimeout > 0 && n-since >= int64(s.IdleTimeout):
					c.closeIf(stateIdle)
				case st == stateHeader && s.ReadHeaderTimeout > 0 && n-since >= int64(s.ReadHeaderTimeout):
					c.closeIf(stateHeader)
				}
			}
			s.mu.Unlock()
		}
	}
}

// Shutdown stops accepting connections, closes idle ones, and waits for the
// others to finish their current request (they close after it). When ctx
// ends first, the remaining connections are closed, the handlers' context is
// cancelled, and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	first := !s.closing.Swap(true)
	for ln := range s.listeners {
		_ = ln.Close()
	}
	if first {
		close(s.stopSweep)
	}
	s.mu.Unlock()
	defer s.cancel()
	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.closeNow()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, 100*time.Millisecond)
			t.Reset(wait)
		}
	}
}

// closeIdle closes idle connections and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.closeIf(stateIdle)
	}
	return len(s.conns) == 0
}

func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
