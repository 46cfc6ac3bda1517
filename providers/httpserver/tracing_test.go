package httpserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers/httpserver"
)

// tracedActor answers every request with its path, fails "/fail", and hands out a tracer
// provider as a host's built-in handle does; it records the span context each call runs under.
type tracedActor struct {
	tp    trace.TracerProvider
	calls chan trace.SpanContext
}

func (a *tracedActor) TracerProvider() trace.TracerProvider { return a.tp }

func (a *tracedActor) CallActor(ctx context.Context, _, _ string, msg []byte) ([]byte, error) {
	a.calls <- trace.SpanContextFromContext(ctx)
	req, err := contract.DecodeRequest(msg)
	if err != nil {
		return nil, err
	}
	if req.Path == "/fail" {
		return nil, errors.New("it failed")
	}
	return contract.HttpResponse{StatusCode: 200, Body: []byte(req.Path)}.Encode()
}

func TestRequestSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	actor := &tracedActor{tp: tp, calls: make(chan trace.SpanContext, 8)}
	p := httpserver.NewWithCaller(actor, zerolog.Nop())
	actorID := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	require.NoError(t, p.PutLink(context.Background(), lattice.LinkDefinition{ActorID: actorID, ContractID: contract.ContractID, Values: map[string]string{"ADDRESS": "127.0.0.1:0"}}))
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	a, ok := p.Addr(actorID)
	require.True(t, ok)
	base := "http://" + a.String()

	do := func(method, path string, header map[string]string) int {
		req, err := http.NewRequest(method, base+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// nth waits for the nth span: a span ends once its handler returns, after the client may
	// have read the response.
	nth := func(n int) tracetest.SpanStub {
		require.Eventually(t, func() bool { return len(exp.GetSpans()) >= n }, 5*time.Second, 5*time.Millisecond)
		return exp.GetSpans()[n-1]
	}
	attrs := func(s tracetest.SpanStub) map[string]string {
		m := map[string]string{}
		for _, a := range s.Attributes {
			m[string(a.Key)] = a.Value.Emit()
		}
		return m
	}

	// A client's traceparent: the request's span is its child, and the actor's call runs in it.
	require.Equal(t, 200, do(http.MethodGet, "/users/42?x=1", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}))
	s := nth(1)
	require.Equal(t, "GET", s.Name)
	require.Equal(t, trace.SpanKindServer, s.SpanKind)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", s.SpanContext.TraceID().String())
	require.Equal(t, "00f067aa0ba902b7", s.Parent.SpanID().String())
	require.True(t, s.Parent.IsRemote())
	require.Equal(t, s.SpanContext.SpanID(), (<-actor.calls).SpanID())
	got := attrs(s)
	require.Equal(t, "GET", got["http.request.method"])
	require.Equal(t, "/users/42", got["url.path"])
	require.Equal(t, "200", got["http.response.status_code"])
	require.Equal(t, actorID, got["wasmbus.actor_id"])

	// No traceparent, or a malformed one: a new trace.
	require.Equal(t, 200, do(http.MethodGet, "/", map[string]string{"traceparent": "00-nope-01"}))
	require.False(t, nth(2).Parent.IsValid())
	<-actor.calls

	// A made-up method does not name a span.
	require.Equal(t, 200, do("BREW", "/pot", nil))
	s = nth(3)
	require.Equal(t, "HTTP", s.Name)
	require.Equal(t, "_OTHER", attrs(s)["http.request.method"])
	require.Equal(t, "BREW", attrs(s)["http.request.method_original"])
	<-actor.calls

	// The actor failing is a 500 and an error span.
	require.Equal(t, 500, do(http.MethodPost, "/fail", nil))
	s = nth(4)
	require.Equal(t, "POST", s.Name)
	require.Equal(t, "Error", s.Status.Code.String())
	require.Equal(t, "500", attrs(s)["http.response.status_code"])
	<-actor.calls
}
