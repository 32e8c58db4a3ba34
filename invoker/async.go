package invoker

import (
	"context"
	"errors"

	"github.com/fluoro/fluoro/invoker/lambdaapi"
)

// asyncRunner queues and processes Event invocations.
type asyncRunner struct {
	inv *Invoker
	api *lambdaapi.Server
}

func newAsyncRunner(inv *Invoker) (*asyncRunner, error) { return &asyncRunner{inv: inv}, nil }

func (a *asyncRunner) Enqueue(ctx context.Context, ev *lambdaapi.AsyncEvent) error {
	return errors.New("event invocations are not available yet")
}

func (a *asyncRunner) DeadLetters(function string, limit int) []any { return nil }

func (a *asyncRunner) run(ctx context.Context) error { <-ctx.Done(); return nil }
func (a *asyncRunner) stop()                         {}
func (a *asyncRunner) close() error                  { return nil }
