package main

import (
	"context"
	"fmt"
	"io"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/cmd/internal/tracing"
	"github.com/trellis-lattice/trellis/lattice"
)

// traceCall starts the client span of `ctl call` when the OTEL_* variables turn tracing on: the
// invocation carries it (traceContext), so the actor's host and what the actor calls join the
// trace. end finishes the span with the call's error and flushes it; without tracing both do
// nothing.
func traceCall(ctx context.Context, stderr io.Writer, actorID, op string) (context.Context, func(error), error) {
	t, err := tracing.FromEnv(ctx, "trellis-ctl")
	if err != nil {
		return ctx, nil, fmt.Errorf("tracing: %w", err)
	}
	tp := t.Provider()
	if tp == nil {
		return ctx, func(error) {}, nil
	}
	ctx, span := tp.Tracer(lattice.TracerName).Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("rpc.system", "wasmbus"), attribute.String("rpc.method", op),
			attribute.String("wasmbus.actor_id", actorID)))
	return ctx, func(err error) {
		lattice.EndSpan(span, err)
		if err := t.Shutdown(); err != nil {
			fmt.Fprintf(stderr, "warning: %v\n", err)
		}
	}, nil
}
