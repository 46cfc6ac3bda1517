package oci

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/trellis-lattice/trellis/lattice"
)

// PingResult is what Ping learnt of a registry.
type PingResult struct {
	// Registry is the registry as pinged (host[:port]).
	Registry string
	// Credentials says whose credentials were accepted ("" when the registry let an anonymous
	// client in).
	Credentials string
	// PlainHTTP is true when the registry was reached over plain HTTP (it is on the allow-list).
	PlainHTTP bool
	// Elapsed is how long the check took, authentication included.
	Elapsed time.Duration
}

// Ping checks that registry (host[:port], or a URL or reference whose host is taken) answers the
// OCI distribution API's base endpoint (GET /v2/) with the credentials the client chooses for it:
// the check `docker login` makes. Errors say "ping REGISTRY: reason" (unreachable, plain HTTP,
// credentials refused, not a registry).
func (c *Client) Ping(ctx context.Context, registry string) (PingResult, error) {
	host := normalizeServer(registry)
	if host == "" || strings.ContainsAny(host, " \t@") {
		return PingResult{}, fmt.Errorf("ping %q: want a registry host[:port]", registry)
	}
	res := PingResult{Registry: host, PlainHTTP: c.insecure[host]}
	reg, err := remote.NewRegistry(endpoint(host))
	if err != nil {
		return res, fmt.Errorf("ping %s: %w", host, err)
	}
	client, source := c.authClient(ctx, host)
	reg.Client, reg.PlainHTTP = client, res.PlainHTTP
	start := time.Now()
	err = reg.Ping(ctx)
	res.Elapsed = time.Since(start)
	if errors.Is(err, errdef.ErrNotFound) {
		return res, fmt.Errorf("ping %s: answered 404 on /v2/: not an OCI registry (or not at this address)", host)
	}
	if err != nil {
		return res, fmt.Errorf("ping %s: %s", host, c.explain(lattice.OCIRef{Registry: host}, source, err, "access"))
	}
	res.Credentials = source
	return res, nil
}
