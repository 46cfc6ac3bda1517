package providers

import (
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
)

// Spans of the SDK (with Config.TracerProvider set): a server span for each invocation the
// provider answers and a client span for each call of an actor (Host.CallActor), joined to the
// caller's trace through the invocation's traceContext (lattice.InjectTraceContext). A provider
// makes spans of its own with Host.TracerProvider, under the context Handle gets.

// tracer is the SDK's tracer of tp, nil without one.
func tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(lattice.TracerName)
}

// TracerProvider is the provider's tracer provider (Config.TracerProvider), nil when it makes no
// spans.
func (h *Host) TracerProvider() trace.TracerProvider { return h.cfg.TracerProvider }
