package httpserver

import (
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-lattice/trellis/lattice"
)

// With a tracer provider (the SDK's Host.TracerProvider, or a host's for the built-in), every
// request is a server span, the root of the actor's invocation and of what the actor calls. An
// incoming W3C traceparent header makes it a child of the client's span. The span is named after
// the method only (the HTTP semantic conventions' name without a route: one listener serves one
// actor at every path), so paths never multiply span names; the path is an attribute.

// tracerSource is what hands the provider a tracer provider: *providers.Host, a host's built-in
// handle.
type tracerSource interface {
	TracerProvider() trace.TracerProvider
}

// tracerOf is the tracer of c's tracer provider, nil when c has none.
func tracerOf(c any) trace.Tracer {
	ts, ok := c.(tracerSource)
	if !ok {
		return nil
	}
	tp := ts.TracerProvider()
	if tp == nil {
		return nil
	}
	return tp.Tracer(lattice.TracerName)
}

// traced serves an HTTP request through s in a server span.
type traced struct {
	tracer trace.Tracer
	s      *server
}

func (t traced) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := lattice.ExtractTraceHeaders(r.Context(), propagation.HeaderCarrier(r.Header))
	method, known := spanMethod(r.Method)
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("url.path", r.URL.EscapedPath()),
		attribute.String("url.scheme", scheme(r)),
		attribute.String("network.protocol.version", strconv.Itoa(r.ProtoMajor)+"."+strconv.Itoa(r.ProtoMinor)),
		attribute.String("wasmbus.actor_id", t.s.actorID),
	}
	if !known {
		attrs = append(attrs, attribute.String("http.request.method_original", r.Method))
	}
	if host, port, err := net.SplitHostPort(t.s.addr().String()); err == nil {
		attrs = append(attrs, attribute.String("server.address", host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, attribute.Int("server.port", p))
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, attribute.String("network.peer.address", host))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, attribute.String("user_agent.original", ua))
	}
	name := method
	if !known {
		name = "HTTP"
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	defer span.End()
	sw := &statusWriter{ResponseWriter: w}
	t.s.ServeHTTP(sw, r.WithContext(ctx))
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
}

// spanMethod is the method as the HTTP semantic conventions name it: one of the known methods,
// else _OTHER (so a client cannot make up span names or attribute values).
func spanMethod(m string) (string, bool) {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m, true
	}
	return "_OTHER", false
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
