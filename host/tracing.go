package host

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
)

// Spans of the host (with Config.TracerProvider set), one trace per request across processes
// through the invocations' traceContext (lattice.InjectTraceContext):
//
//	invocation of a local actor     server  op name        lattice.Server, or callLocal for a built-in
//	  host call of the actor        internal "host_call OP" binding, namespace, operation
//	    call of a provider or actor client  op name        lattice.Caller
//
// Without a tracer provider the host makes no span and allocates nothing for traces.

// newTracer is the host's tracer of tp, nil without one.
func newTracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(lattice.TracerName)
}

// tracedHostCall is hostCall in a span of its own (wasmbus __host_call: binding, namespace,
// operation), the parent of the call's client span.
func (h *Host) tracedHostCall(ctx context.Context, a *actor, claims *lattice.ActorClaims, binding, ns, op string, msg []byte) (out []byte, err error) {
	if h.tracer == nil {
		return h.hostCall(ctx, a, claims, binding, ns, op, msg)
	}
	if binding == "" {
		binding = lattice.DefaultLinkName
	}
	ctx, span := h.tracer.Start(ctx, "host_call "+op, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(
		attribute.String("wasmbus.actor_id", a.id),
		attribute.String("wasmbus.binding", binding),
		attribute.String("wasmbus.namespace", ns),
		attribute.String("wasmbus.operation", op),
	))
	defer func() { lattice.EndSpan(span, err) }()
	return h.hostCall(ctx, a, claims, binding, ns, op, msg)
}

// TracerProvider is the host's tracer provider, nil when the host makes no spans: a built-in
// provider makes its own spans with it.
func (b *BuiltinHost) TracerProvider() trace.TracerProvider { return b.h.cfg.TracerProvider }
