package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"
)

// PartnerConfig controls the payment partner's misbehaviour.
type PartnerConfig struct {
	// FaultRate, ThrottleRate and SlowRate are the probabilities that a
	// charge answers 503, answers 429, or takes 0.2–0.7 s.
	FaultRate, ThrottleRate, SlowRate float64
}

// Partner is the demo functions' downstream HTTP dependency: an
// uninstrumented payment API on loopback (POST /v1/charges), shown on the
// service map as a remote node from the orders function's subsegments.
type Partner struct {
	// URL is the partner's base URL (http://127.0.0.1:<port>).
	URL string

	cfg PartnerConfig
	srv *http.Server
	mu  sync.Mutex
	rnd *rand.Rand
}

// StartPartner starts a partner on a free loopback port. Stop it with Close.
func StartPartner(cfg PartnerConfig) (*Partner, error) {
	for _, p := range []float64{cfg.FaultRate, cfg.ThrottleRate, cfg.SlowRate} {
		if p < 0 || p > 1 {
			return nil, fmt.Errorf("demo partner: probability %v: must be in [0, 1]", p)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo partner: listen: %w", err)
	}
	p := &Partner{
		URL: "http://" + ln.Addr().String(),
		cfg: cfg,
		rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/charges", p.charge)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	// Serve returns http.ErrServerClosed after Close; it has no other
	// failure on a listener nobody else closes.
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the partner.
func (p *Partner) Close() error { return p.srv.Close() }

func (p *Partner) float() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rnd.Float64()
}

func (p *Partner) charge(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Amount   float64 `json:"amount"`
		Currency string  `json:"currency"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || req.Amount <= 0 {
		writePartner(w, http.StatusBadRequest, map[string]any{"error": "amount must be a positive number"})
		return
	}
	roll := p.float()
	switch {
	case roll < p.cfg.ThrottleRate:
		w.Header().Set("Retry-After", "1")
		writePartner(w, http.StatusTooManyRequests, map[string]any{"error": "rate limited"})
		return
	case roll < p.cfg.ThrottleRate+p.cfg.FaultRate:
		writePartner(w, http.StatusServiceUnavailable, map[string]any{"error": "acquirer unavailable"})
		return
	}
	d := time.Duration(2+p.float()*8) * time.Millisecond
	if p.float() < p.cfg.SlowRate {
		d = time.Duration(200+p.float()*500) * time.Millisecond
	}
	select {
	case <-time.After(d):
	case <-r.Context().Done():
		return
	}
	if req.Amount > 1000 {
		writePartner(w, http.StatusPaymentRequired, map[string]any{"error": "card declined"})
		return
	}
	writePartner(w, http.StatusCreated, map[string]any{
		"id": fmt.Sprintf("ch_%012x", int64(p.float()*(1<<48))), "status": "succeeded",
		"amount": req.Amount, "currency": req.Currency,
	})
}

func writePartner(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
