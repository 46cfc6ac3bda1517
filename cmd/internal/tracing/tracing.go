// Package tracing builds the OpenTelemetry tracer provider of a Trellis binary from the standard
// OTEL_* environment variables: the one place that reads them (the libraries take a
// trace.TracerProvider in their Config). It is off unless configured:
//
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off.
//   - OTEL_TRACES_EXPORTER=otlp, or unset with OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set: spans are exported with OTLP.
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf (the
//     default) or grpc.
//
// The exporters read the rest of their OTEL_EXPORTER_OTLP_* settings (endpoint, headers,
// timeout, TLS certificates, compression), the SDK OTEL_TRACES_SAMPLER(_ARG) and OTEL_BSP_*, the
// resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. ProviderMain wires it into a provider
// binary.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ShutdownTimeout bounds the flush of the spans still buffered when a binary exits.
const ShutdownTimeout = 5 * time.Second

// Tracing is a binary's tracer provider, or nothing when tracing is off.
type Tracing struct {
	sdk *sdktrace.TracerProvider // nil when off
}

// FromEnv builds the tracer provider the OTEL_* variables of the process ask for; service is the
// service.name unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) names
// another. A variable with a value it cannot serve is an error naming it.
func FromEnv(ctx context.Context, service string) (*Tracing, error) {
	return fromEnv(ctx, service, os.Getenv)
}

func fromEnv(ctx context.Context, service string, getenv func(string) string) (*Tracing, error) {
	on, err := enabled(getenv)
	if err != nil || !on {
		return &Tracing{}, err
	}
	protocol, name := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if protocol == "" {
		protocol, name = getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	var exp sdktrace.SpanExporter
	switch strings.TrimSpace(protocol) {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("%s=%s: want http/protobuf or grpc", name, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithProcessPID(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	// The SDK reads OTEL_TRACES_SAMPLER(_ARG) and OTEL_BSP_* itself.
	return &Tracing{sdk: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// enabled reads OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER.
func enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	exporters := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	if exporters == "" {
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	}
	on := false
	for _, e := range strings.Split(exporters, ",") {
		switch strings.TrimSpace(e) {
		case "otlp":
			on = true
		case "none":
			return false, nil
		default:
			return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: %q is not an exporter Trellis has (otlp or none)", exporters, strings.TrimSpace(e))
		}
	}
	return on, nil
}

// Provider is the tracer provider to put in a component's Config: nil when tracing is off, so
// the components make no spans at all.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk
}

// Shutdown flushes the spans still buffered and stops the exporter, within ShutdownTimeout. It
// does nothing when tracing is off.
func (t *Tracing) Shutdown() error {
	if t == nil || t.sdk == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
