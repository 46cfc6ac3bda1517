package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// The echo demo of `trellis up --demo DIR`: the files `make actors pars` writes into DIR.
const (
	demoActor    = "actors/echo_s.wasm"
	demoProvider = "providers/httpserver.par.gz"
)

// deployDemo starts the echo actor and the httpserver provider from dir on h and links them on
// address, the way a user would with ctl, then says how to reach it.
func deployDemo(ctx context.Context, h *host.Host, cfg host.Config, dir, address string, w io.Writer) error {
	actorRef, err := filepath.Abs(filepath.Join(dir, demoActor))
	if err != nil {
		return err
	}
	providerRef, err := filepath.Abs(filepath.Join(dir, demoProvider))
	if err != nil {
		return err
	}
	for _, p := range []string{actorRef, providerRef} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("echo demo: %w (build it with `make actors pars`)", err)
		}
	}
	conn := h.NATS()
	conn.Name = "trellis up demo"
	nc, err := conn.Connect()
	if err != nil {
		return fmt.Errorf("echo demo: %w", err)
	}
	defer nc.Close()
	seed, err := lattice.KeyPairFromSeed(cfg.ClusterSeed)
	if err != nil {
		return fmt.Errorf("echo demo: %w", err)
	}
	seedStr, _ := seed.Seed()
	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{Lattice: cfg.Lattice, ClusterSeed: seedStr})
	if err != nil {
		return fmt.Errorf("echo demo: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	actorID, err := demoStart(ctx, ctl, lattice.ActorStart(h.ID(), actorRef), func() error {
		return ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: actorRef, HostID: h.ID(), Count: 1})
	})
	if err != nil {
		return fmt.Errorf("echo demo: start actor %s: %w", actorRef, err)
	}
	providerID, err := demoStart(ctx, ctl, lattice.ProviderStart(h.ID(), providerRef, ""), func() error {
		return ctl.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: providerRef, HostID: h.ID()})
	})
	if err != nil {
		return fmt.Errorf("echo demo: start provider %s: %w", providerRef, err)
	}
	link := lattice.LinkDefinition{ActorID: actorID, ProviderID: providerID, ContractID: "wasmcloud:httpserver",
		Values: map[string]string{"ADDRESS": address}}
	if err := ctl.PutLink(ctx, link); err != nil {
		return fmt.Errorf("echo demo: link: %w", err)
	}
	fmt.Fprintf(w, "\nEcho demo: actor %s linked to httpserver %s on %s.\n", actorID, providerID, address)
	fmt.Fprintf(w, "  curl http://%s/\n", address)
	return nil
}

// demoStart sends a start command and waits for the event that ends it; it returns the started
// entity's public key.
func demoStart(ctx context.Context, ctl *lattice.Client, outcome lattice.StartOf, send func() error) (string, error) {
	w, err := ctl.NewWaiter(outcome.Match)
	if err != nil {
		return "", err
	}
	defer w.Stop()
	if err := send(); err != nil {
		return "", err
	}
	ev, err := w.Wait(ctx)
	if err != nil {
		return "", err
	}
	o, _ := outcome(ev)
	if o.Failed {
		return "", errors.New(o.Error)
	}
	return o.PublicKey, nil
}
