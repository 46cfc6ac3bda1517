package lattice_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// spanContext is a sampled span context with fixed ids.
func spanContext(t *testing.T, state string) trace.SpanContext {
	t.Helper()
	tid, err := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	require.NoError(t, err)
	sid, err := trace.SpanIDFromHex("00f067aa0ba902b7")
	require.NoError(t, err)
	ts, err := trace.ParseTraceState(state)
	require.NoError(t, err)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
}

func TestTraceContextRoundTrip(t *testing.T) {
	sc := spanContext(t, "vendor=value")
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	tc := lattice.InjectTraceContext(ctx, nil)
	require.Equal(t, map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":  "vendor=value",
	}, tc)

	// Through the wire envelope and back.
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	inv, err := lattice.NewInvocation(cluster, "host", lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()},
		lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixModule).PublicKey()}, "Op.Do", []byte("x"))
	require.NoError(t, err)
	inv.TraceContext = tc
	data, err := inv.Encode()
	require.NoError(t, err)
	got, err := lattice.DecodeInvocation(data)
	require.NoError(t, err)
	require.NoError(t, got.Validate([]string{cluster.PublicKey()}, time.Now()), "the trace context is outside the signed hash")

	remote := trace.SpanContextFromContext(lattice.ExtractTraceContext(context.Background(), got.TraceContext))
	require.True(t, remote.IsValid())
	require.True(t, remote.IsRemote())
	require.True(t, remote.IsSampled())
	require.Equal(t, sc.TraceID(), remote.TraceID())
	require.Equal(t, sc.SpanID(), remote.SpanID())
	require.Equal(t, "vendor=value", remote.TraceState().String())
}

func TestTraceContextWithoutSpanAddsNothing(t *testing.T) {
	ctx := context.Background()
	require.Nil(t, lattice.InjectTraceContext(ctx, nil))
	kept := map[string]string{"other": "field"}
	require.Equal(t, map[string]string{"other": "field"}, lattice.InjectTraceContext(ctx, kept))
	allocs := testing.AllocsPerRun(100, func() { _ = lattice.InjectTraceContext(ctx, nil) })
	require.Zero(t, allocs, "tracing off costs no allocation")
	require.Equal(t, ctx, lattice.ExtractTraceContext(ctx, nil))
}

func TestBadTraceparentIsIgnored(t *testing.T) {
	for name, tc := range map[string]map[string]string{
		"garbage":         {"traceparent": "not a traceparent"},
		"empty":           {"traceparent": ""},
		"zero trace id":   {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		"zero span id":    {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"},
		"version ff":      {"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"short trace id":  {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01"},
		"uppercase hex":   {"traceparent": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"},
		"tracestate only": {"tracestate": "vendor=value"},
		"other keys":      {"uber-trace-id": "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := lattice.ExtractTraceContext(context.Background(), tc)
			require.False(t, trace.SpanContextFromContext(ctx).IsValid())
		})
	}
}

// TestInvocationSpansJoinAcrossTheWire: a caller's client span and the server's span of the
// same invocation are one trace, the server's a child of the client's, which is a child of the
// caller's own span; a malformed traceparent starts a new trace and fails nothing.
func TestInvocationSpansJoinAcrossTheWire(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := &reverser{seen: make(chan *lattice.Invocation, 4)}
	l := newRPCLattice(t, h, time.Second, func(s *lattice.Server) { s.Tracer = tp.Tracer("server") })
	caller := l.caller.WithTracer(tp)

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	out, err := caller.Call(ctx, l.origin, l.actor, "Echo.Reverse", []byte("abc"))
	require.NoError(t, err)
	require.Equal(t, "cba", string(out))
	inv := <-h.seen
	parent.End()
	require.Contains(t, inv.TraceContext, "traceparent")

	_, err = caller.Call(context.Background(), l.origin, l.actor, "Fail", nil)
	require.Error(t, err)
	<-h.seen

	spans := exp.GetSpans()
	byName := func(name string, kind trace.SpanKind) tracetest.SpanStub {
		for _, s := range spans {
			if s.Name == name && s.SpanKind == kind {
				return s
			}
		}
		t.Fatalf("no %s span %q in %v", kind, name, spans)
		return tracetest.SpanStub{}
	}
	client := byName("Echo.Reverse", trace.SpanKindClient)
	server := byName("Echo.Reverse", trace.SpanKindServer)
	require.Equal(t, parent.SpanContext().TraceID(), client.SpanContext.TraceID())
	require.Equal(t, parent.SpanContext().SpanID(), client.Parent.SpanID())
	require.Equal(t, client.SpanContext.TraceID(), server.SpanContext.TraceID())
	require.Equal(t, client.SpanContext.SpanID(), server.Parent.SpanID())
	require.True(t, server.Parent.IsRemote())
	attrs := map[string]string{}
	for _, a := range server.Attributes {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	require.Equal(t, "wasmbus", attrs["rpc.system"])
	require.Equal(t, l.actor.PublicKey, attrs["wasmbus.actor_id"])
	require.Equal(t, inv.ID, attrs["wasmbus.invocation_id"])

	failedClient, failedServer := byName("Fail", trace.SpanKindClient), byName("Fail", trace.SpanKindServer)
	require.Equal(t, "Error", failedClient.Status.Code.String())
	require.Equal(t, "Error", failedServer.Status.Code.String())
	require.Equal(t, "it failed", failedServer.Status.Description)

	// An invocation from a caller that writes a malformed traceparent is answered, in a new trace.
	exp.Reset()
	bad, err := lattice.NewInvocation(l.cluster, "host", l.origin, l.actor, "Echo.Reverse", []byte("xy"))
	require.NoError(t, err)
	bad.TraceContext = map[string]string{"traceparent": "00-zz-zz-01"}
	data, err := bad.Encode()
	require.NoError(t, err)
	reply, err := l.nc.Request(l.subj.Actor(l.actor.PublicKey), data, 5*time.Second)
	require.NoError(t, err)
	resp, err := lattice.DecodeInvocationResponse(reply.Data)
	require.NoError(t, err)
	require.Empty(t, resp.Error)
	require.Equal(t, "yx", string(resp.Msg))
	<-h.seen
	require.Eventually(t, func() bool { return len(exp.GetSpans()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.False(t, exp.GetSpans()[0].Parent.IsValid(), "a malformed traceparent names no parent")
}
