package lattice

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Traces cross processes in an invocation's traceContext map (PROTOCOL.md §7), as wasmCloud 0.x
// carries them: the W3C Trace Context fields traceparent and tracestate. The map is written by
// the caller after signing (the claims' hash does not cover it) and read by the server; a
// missing or malformed traceparent starts no trace and fails no invocation.

// TracerName is the instrumentation name of the spans Trellis makes.
const TracerName = "github.com/trellis-lattice/trellis"

// traceContextPropagator is the W3C Trace Context propagator, the one format on the wire.
var traceContextPropagator = propagation.TraceContext{}

// InjectTraceContext writes the span context of ctx as W3C traceparent (and tracestate) into a
// trace context map and returns it; it returns tc unchanged when ctx carries no valid span
// context (tracing off, nothing allocated). tc may be nil.
func InjectTraceContext(ctx context.Context, tc map[string]string) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return tc
	}
	if tc == nil {
		tc = make(map[string]string, 2)
	}
	traceContextPropagator.Inject(ctx, propagation.MapCarrier(tc))
	return tc
}

// ExtractTraceContext returns ctx with the remote span context that a trace context map carries,
// so spans started under it join the caller's trace. A map without a valid traceparent leaves
// ctx as it is.
func ExtractTraceContext(ctx context.Context, tc map[string]string) context.Context {
	if len(tc) == 0 {
		return ctx
	}
	return traceContextPropagator.Extract(ctx, propagation.MapCarrier(tc))
}

// ExtractTraceHeaders is ExtractTraceContext for any carrier of the W3C fields, such as an HTTP
// request's headers (propagation.HeaderCarrier).
func ExtractTraceHeaders(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return traceContextPropagator.Extract(ctx, carrier)
}

// noSpan records nothing and ends nothing: what StartInvocationSpan returns without a tracer.
var noSpan = trace.SpanFromContext(context.Background())

// StartInvocationSpan starts the span of one invocation of op from origin to target under ctx:
// kind Client on the caller's side, Server on the side that answers it. Its name is the
// operation (bounded: a contract's operations, never a payload or an id), its attributes the
// RPC semantic conventions' (rpc.system wasmbus, rpc.method) and the two ends. tracer nil
// starts nothing and returns ctx and a span that records nothing.
func StartInvocationSpan(ctx context.Context, tracer trace.Tracer, kind trace.SpanKind, origin, target Entity, op, id string) (context.Context, trace.Span) {
	if tracer == nil {
		return ctx, noSpan
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String("rpc.system", "wasmbus"),
		attribute.String("rpc.method", op),
		attribute.String("wasmbus.origin", origin.PublicKey),
		attribute.String("wasmbus.target", target.PublicKey),
	)
	if id != "" {
		attrs = append(attrs, attribute.String("wasmbus.invocation_id", id))
	}
	if target.IsActor() {
		attrs = append(attrs, attribute.String("wasmbus.actor_id", target.PublicKey))
	} else if target.PublicKey != "" {
		attrs = append(attrs,
			attribute.String("wasmbus.provider_id", target.PublicKey),
			attribute.String("wasmbus.contract_id", target.ContractID),
			attribute.String("wasmbus.link_name", orDefaultLink(target.LinkName)))
	}
	return tracer.Start(ctx, op, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// EndSpan ends span, marking it failed with err's text when err is not nil.
func EndSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// endSpanText is EndSpan for an error known by its text only (an invocation response's).
func endSpanText(span trace.Span, text string) {
	if text != "" && span.IsRecording() {
		span.SetStatus(codes.Error, text)
	}
	span.End()
}
