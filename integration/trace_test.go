package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers/httpserver"
)

// receivedSpan is one span an OTLP receiver was sent, with the service that sent it.
type receivedSpan struct {
	service             string
	name                string
	kind                tracepb.Span_SpanKind
	traceID, id, parent string // hex; parent "" for a root
	attrs               map[string]string
	status              tracepb.Status_StatusCode
}

// otlpReceiver is an OTLP/HTTP trace receiver (POST /v1/traces, protobuf), what a collector
// listens with on :4318.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []receivedSpan
}

func runOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var export coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &export); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&export)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *otlpReceiver) add(export *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.ResourceSpans {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				attrs := map[string]string{}
				for _, a := range s.Attributes {
					if v := a.GetValue().GetStringValue(); v != "" {
						attrs[a.Key] = v
					}
				}
				rsp := receivedSpan{service: service, name: s.Name, kind: s.Kind, traceID: hex.EncodeToString(s.TraceId),
					id: hex.EncodeToString(s.SpanId), attrs: attrs, status: s.GetStatus().GetCode()}
				if len(s.ParentSpanId) > 0 {
					rsp.parent = hex.EncodeToString(s.ParentSpanId)
				}
				r.spans = append(r.spans, rsp)
			}
		}
	}
}

// trace returns the spans of one trace, by span id.
func (r *otlpReceiver) trace(traceID string) map[string]receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]receivedSpan{}
	for _, s := range r.spans {
		if s.traceID == traceID {
			out[s.id] = s
		}
	}
	return out
}

// hostTracerProvider exports the in-process host's spans to the receiver, as the trellis binary
// does from OTEL_* (cmd/internal/tracing).
func hostTracerProvider(t *testing.T, url string) *sdktrace.TracerProvider {
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(url+"/v1/traces"))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(50*time.Millisecond)),
		sdktrace.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", "trellis-host"))))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// TestOneTraceFromHTTPToKeyvalue: an HTTP request to kvcounter is one trace, from the
// httpserver's request span through the host's invocation of the actor and the actor's host
// call to the keyvalue provider process's span, whether the httpserver is a provider process or
// the host's built-in. The provider processes get the OTEL_* settings from the host's
// environment and export to the same OTLP receiver as the host.
func TestOneTraceFromHTTPToKeyvalue(t *testing.T) {
	rcv := runOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.url)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
	t.Setenv("OTEL_SERVICE_NAME", "") // each process's own default name

	for _, tc := range []struct {
		name        string
		builtin     bool
		httpService string
	}{
		{name: "httpserver process", httpService: "trellis-provider-httpserver"},
		{name: "builtin httpserver", builtin: true, httpService: "trellis-host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := hosttest.New(t)
			tp := hostTracerProvider(t, rcv.url)
			h := l.StartHost(func(c *host.Config) {
				c.TracerProvider = tp
				c.Builtins = map[string]host.BuiltinProvider{host.BuiltinHTTPServer: {
					Name: httpserver.BuiltinName, ContractID: contract.ContractID,
					New: func(_ context.Context, bh *host.BuiltinHost) (host.Builtin, error) {
						return httpserver.NewWithCaller(bh, bh.Logger()), nil
					},
				}}
			})
			counterID := l.StartActor(h, kvcounter(t, contract.ContractID, keyvalue.ContractID).Path, 1)
			httpRef := host.BuiltinHTTPServer
			if !tc.builtin {
				httpRef = httpProvider(t).Path
			}
			httpID := l.StartProvider(h, httpRef, "")
			kvID := l.StartProvider(h, kvProvider(t).Path, "")
			l.PutLink(lattice.LinkDefinition{ActorID: counterID, ProviderID: kvID, ContractID: keyvalue.ContractID})
			port := latticetest.FreePort(t)
			l.PutLink(lattice.LinkDefinition{ActorID: counterID, ProviderID: httpID, ContractID: contract.ContractID, Values: map[string]string{"ADDRESS": addr(port)}})
			require.Eventually(t, func() bool {
				status, _, err := get(url(port, "/warmup"))
				return err == nil && status == 200
			}, 15*time.Second, 20*time.Millisecond, "kvcounter never answered 200")

			// A request that carries a client's trace: the whole request joins it. Each case has a
			// trace of its own (the receiver is shared).
			ids := make([]byte, 24)
			_, _ = rand.Read(ids)
			clientTrace, clientSpan := hex.EncodeToString(ids[:16]), hex.EncodeToString(ids[16:])
			req, err := http.NewRequest(http.MethodGet, url(port, "/hits/of/a/page?amount=2"), nil)
			require.NoError(t, err)
			req.Header.Set("traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode, string(body))
			require.JSONEq(t, `{"counter":2}`, string(body))

			// From the keyvalue provider's span up to the HTTP request's, parent by parent.
			var chain []receivedSpan
			require.Eventually(t, func() bool {
				spans := rcv.trace(clientTrace)
				chain = chain[:0]
				var kv *receivedSpan
				for _, s := range spans {
					if s.service == "trellis-provider-keyvalue" && s.kind == tracepb.Span_SPAN_KIND_SERVER {
						kv = &s
					}
				}
				if kv == nil {
					return false
				}
				for s, ok := *kv, true; ok; s, ok = spans[s.parent] {
					chain = append(chain, s)
				}
				return chain[len(chain)-1].parent == clientSpan
			}, 15*time.Second, 50*time.Millisecond, "no complete trace from the keyvalue provider up to the HTTP request")

			type step struct {
				service, name string
				kind          tracepb.Span_SpanKind
			}
			var got []step
			for i := len(chain) - 1; i >= 0; i-- {
				got = append(got, step{chain[i].service, chain[i].name, chain[i].kind})
			}
			want := []step{
				{tc.httpService, "GET", tracepb.Span_SPAN_KIND_SERVER},
				{"trellis-host", contract.OpHandleRequest, tracepb.Span_SPAN_KIND_SERVER},
				{"trellis-host", "host_call " + keyvalue.OpIncrement, tracepb.Span_SPAN_KIND_INTERNAL},
				{"trellis-host", keyvalue.OpIncrement, tracepb.Span_SPAN_KIND_CLIENT},
				{"trellis-provider-keyvalue", keyvalue.OpIncrement, tracepb.Span_SPAN_KIND_SERVER},
			}
			if !tc.builtin { // the httpserver process calls the actor over the lattice
				want = append(want[:1], append([]step{{tc.httpService, contract.OpHandleRequest, tracepb.Span_SPAN_KIND_CLIENT}}, want[1:]...)...)
			}
			require.Equal(t, want, got)

			httpSpan, invocation, hostCall := chain[len(chain)-1], chain[len(chain)-2], chain[2]
			require.Equal(t, "/hits/of/a/page", httpSpan.attrs["url.path"])
			require.Equal(t, "GET", httpSpan.attrs["http.request.method"])
			require.Equal(t, counterID, invocation.attrs["wasmbus.actor_id"])
			if !tc.builtin {
				invocation = chain[len(chain)-3]
				require.Equal(t, counterID, invocation.attrs["wasmbus.actor_id"])
			}
			require.Equal(t, keyvalue.ContractID, hostCall.attrs["wasmbus.namespace"])
			require.Equal(t, lattice.DefaultLinkName, hostCall.attrs["wasmbus.binding"])
			require.Equal(t, keyvalue.OpIncrement, hostCall.attrs["wasmbus.operation"])
			require.Equal(t, kvID, chain[0].attrs["wasmbus.provider_id"])

			// A request without a traceparent is a trace of its own, rooted at the HTTP span,
			// and span names do not grow with paths.
			_, _, err = get(url(port, "/another/path"))
			require.NoError(t, err)
			var another receivedSpan
			require.Eventually(t, func() bool {
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				for _, s := range rcv.spans {
					if s.attrs["url.path"] == "/another/path" {
						another = s
						return true
					}
				}
				return false
			}, 15*time.Second, 50*time.Millisecond)
			require.Empty(t, another.parent, "a request without traceparent starts its trace")
			require.Equal(t, "GET", another.name)
			rcv.mu.Lock()
			for _, s := range rcv.spans {
				require.False(t, strings.Contains(s.name, "/"), "span name %q holds a path", s.name)
			}
			rcv.mu.Unlock()
		})
	}
}
