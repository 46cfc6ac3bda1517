package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-lattice/trellis/lattice"
)

// TestCtlCallTraced: with OTEL_EXPORTER_OTLP_ENDPOINT set, ctl call exports its client span
// (here an error: nothing runs the actor) before it exits; with OTEL_TRACES_EXPORTER unknown it
// refuses to run, naming the variable.
func TestCtlCallTraced(t *testing.T) {
	useTempKeys(t)
	url := startNATS(t)
	actor, err := lattice.CreateKeyPair(lattice.PrefixModule)
	require.NoError(t, err)
	cluster, err := lattice.CreateKeyPair(lattice.PrefixCluster)
	require.NoError(t, err)
	seed, err := cluster.Seed()
	require.NoError(t, err)

	var mu sync.Mutex
	var spans []*tracepb.Span
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans = append(spans, ss.Spans...)
			}
		}
		mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rcv.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)

	args := []string{"ctl", "call", actor.PublicKey(), "Echo.Reverse", "{}", "--cluster-seed", seed, "--nats-url", url, "--rpc-timeout", "300ms"}
	code, _, errOut := runCLI(t, context.Background(), args...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "nothing is running to answer")
	mu.Lock()
	got := append([]*tracepb.Span(nil), spans...)
	mu.Unlock()
	require.Len(t, got, 1, "the span is flushed before ctl call returns")
	require.Equal(t, "Echo.Reverse", got[0].Name)
	require.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, got[0].Kind)
	require.Equal(t, tracepb.Status_STATUS_CODE_ERROR, got[0].GetStatus().GetCode())

	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	code, _, errOut = runCLI(t, context.Background(), args...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "OTEL_TRACES_EXPORTER=zipkin")
}
