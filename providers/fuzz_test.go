package providers

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// FuzzInvocation feeds arbitrary bytes to the invocation path: every input gets a response
// (an error for anything that is not a valid, signed invocation from a linked actor), never a
// panic, and never reaches the provider.
func FuzzInvocation(f *testing.F) {
	cluster, err := lattice.CreateKeyPair(lattice.PrefixCluster)
	if err != nil {
		f.Fatal(err)
	}
	provider, _ := lattice.CreateKeyPair(lattice.PrefixService)
	actor, _ := lattice.CreateKeyPair(lattice.PrefixModule)
	hd := lattice.HostData{ProviderKey: provider.PublicKey(), LinkName: "default", ClusterIssuers: []string{cluster.PublicKey()}, DefaultRPCTimeoutMS: 100}
	inv, err := lattice.NewInvocation(cluster, "N", lattice.Entity{PublicKey: actor.PublicKey()},
		lattice.Entity{PublicKey: provider.PublicKey(), ContractID: "test:fuzz", LinkName: "default"}, "Fuzz.Op", []byte{0x80})
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := inv.Encode()
	f.Add(seed)
	f.Add([]byte{0x80})
	f.Add([]byte{0xc1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &Host{data: hd, cfg: DefaultConfig("test:fuzz"), log: zerolog.Nop(), links: map[string]lattice.LinkDefinition{}, failed: map[string]error{}}
		r := &runner{h: h, p: panicProvider{t}, log: zerolog.Nop()}
		srv := &lattice.Server{Issuers: hd.ClusterIssuers, Log: zerolog.Nop()}
		resp := srv.Answer(context.Background(), data, r)
		if resp == nil || resp.Error == "" {
			t.Fatalf("input %x was not refused: %+v", data, resp)
		}
	})
}

// panicProvider fails the test when an invocation gets through.
type panicProvider struct{ t *testing.T }

func (panicProvider) PutLink(ctx context.Context, l lattice.LinkDefinition) error    { return nil }
func (panicProvider) DeleteLink(ctx context.Context, l lattice.LinkDefinition) error { return nil }
func (p panicProvider) Handle(context.Context, Invocation) ([]byte, error) {
	p.t.Fatal("an invocation from an unlinked actor reached the provider")
	return nil, nil
}
