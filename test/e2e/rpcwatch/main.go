// Command rpcwatch counts the invocations of one actor by the host that sent them. It subscribes,
// without a queue group, to the actor's subject wasmbus.rpc.{lattice}.{actor} (so it sees a copy of
// every invocation the hosts running the actor receive), decodes each envelope and, when it is
// interrupted (SIGINT, SIGTERM) or --duration has passed, prints one line per sending host:
// "HOST_ID COUNT", most first.
//
// The e2e walkthrough (test/e2e/walkthrough.sh) uses it to show which host pods a Kubernetes
// Service spread requests over: the httpserver provider of each pod sends its invocations with its
// own host's id. It prints "watching SUBJECT" on stderr once the subscription is in place.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trellis-lattice/trellis/lattice"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rpcwatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats-url", envOr("TRELLIS_NATS_URL", "nats://127.0.0.1:4222"), "NATS server(s) of the lattice [env: TRELLIS_NATS_URL]")
	user := fs.String("nats-user", os.Getenv("TRELLIS_NATS_USER"), "NATS user [env: TRELLIS_NATS_USER]")
	password := fs.String("nats-password", os.Getenv("TRELLIS_NATS_PASSWORD"), "NATS password [env: TRELLIS_NATS_PASSWORD]")
	tlsCA := fs.String("nats-tls-ca", os.Getenv("TRELLIS_NATS_TLS_CA"), "CA certificate (PEM file) of the NATS server [env: TRELLIS_NATS_TLS_CA]")
	latticeName := fs.String("lattice", lattice.DefaultLattice, "lattice prefix")
	actorID := fs.String("actor", "", "public key (M…) of the actor whose invocations to count")
	duration := fs.Duration("duration", 0, "stop after this long (0: at SIGINT or SIGTERM)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *actorID == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: rpcwatch --actor M… [--nats-url URL] [--lattice L] [--duration D]")
		return 2
	}
	conn := lattice.NATSConfig{Servers: lattice.SplitServers(*natsURL), Name: "trellis e2e rpcwatch", User: *user, Password: *password, TLSCAFile: *tlsCA}
	counts, err := watch(ctx, conn, lattice.NewSubjects(*latticeName).Actor(*actorID), *duration, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "rpcwatch:", err)
		return 1
	}
	for _, c := range counts {
		fmt.Fprintf(stdout, "%s %d\n", c.host, c.n)
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type hostCount struct {
	host string
	n    int
}

// watch counts the invocations on subject by host id until ctx ends or d (when non-zero) passes.
func watch(ctx context.Context, conn lattice.NATSConfig, subject string, d time.Duration, stderr io.Writer) ([]hostCount, error) {
	nc, err := conn.Connect()
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		bad    int
	)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		inv, err := lattice.DecodeInvocation(m.Data)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || inv.HostID == "" {
			bad++
			return
		}
		counts[inv.HostID]++
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	if err := nc.Flush(); err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	fmt.Fprintf(stderr, "watching %s\n", subject)
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	<-ctx.Done()
	if err := sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return nil, fmt.Errorf("drain %s: %w", subject, err)
	}
	_ = nc.Flush()
	mu.Lock()
	defer mu.Unlock()
	if bad > 0 {
		fmt.Fprintf(stderr, "%d messages were not invocations with a host id\n", bad)
	}
	out := make([]hostCount, 0, len(counts))
	for h, n := range counts {
		out = append(out, hostCount{h, n})
	}
	slices.SortFunc(out, func(a, b hostCount) int { return cmp.Or(b.n-a.n, cmp.Compare(a.host, b.host)) })
	return out, nil
}
