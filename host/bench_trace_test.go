package host_test

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// BenchmarkActorCallTracing is BenchmarkActorCallOverNATS with the host's tracing off (the
// baseline: no TracerProvider) and on (every invocation sampled into a batch of an exporter that
// keeps nothing), in the same run: compare ns/op and allocs/op of the two.
func BenchmarkActorCallTracing(b *testing.B) {
	for _, tc := range []struct {
		name string
		tp   func(b *testing.B) *sdktrace.TracerProvider
	}{
		{name: "off", tp: func(*testing.B) *sdktrace.TracerProvider { return nil }},
		{name: "on", tp: func(b *testing.B) *sdktrace.TracerProvider {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			return tp
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := hosttest.New(b)
			tp := tc.tp(b)
			h := l.StartHost(func(c *host.Config) {
				if tp != nil {
					c.TracerProvider = tp
				}
			})
			id := l.StartActor(h, echoActor(b).Path, 1)
			msg, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := l.Ctl.Call(ctx, id, httpserver.OpHandleRequest, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
