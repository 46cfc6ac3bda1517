package tracing

import (
	"context"
	"fmt"
	"os"

	"github.com/trellis-lattice/trellis/providers"
)

// ProviderMain is a provider binary's main: providers.Main(p, cfg) with cfg.TracerProvider from
// the OTEL_* variables the host passes through, flushing the spans when the provider stops. A
// tracing setting it cannot serve is reported on stderr and the provider does not start
// (providers.ExitError).
func ProviderMain(service string, p providers.Provider, cfg providers.Config) int {
	t, err := FromEnv(context.Background(), service)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: tracing: %v\n", service, err)
		return providers.ExitError
	}
	cfg.TracerProvider = t.Provider()
	code := providers.Main(p, cfg)
	if err := t.Shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
	}
	return code
}
