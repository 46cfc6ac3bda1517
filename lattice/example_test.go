package lattice_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// A module is signed with an account key (the issuer) and its own module key (the subject); a
// host verifies the embedded claims before it runs the module.
func ExampleSignActor() {
	account, _ := lattice.CreateKeyPair(lattice.PrefixAccount)
	module, _ := lattice.CreateKeyPair(lattice.PrefixModule)
	wasm := []byte("\x00asm\x01\x00\x00\x00") // the smallest valid module

	signed, _, err := lattice.SignActor(wasm, account, module, lattice.ActorMetadata{
		Name: "echo",
		Caps: []string{"wasmcloud:httpserver"},
	}, lattice.SignOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	claims, err := lattice.VerifyActor(signed, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Actor.Name, claims.HasCap("wasmcloud:httpserver"), claims.Subject == module.PublicKey())

	// Any change to the module's code breaks the claims' hash.
	_, err = lattice.VerifyActor(append(signed, 0), time.Now())
	fmt.Println(err != nil)
	// Output:
	// echo true true
	// true
}

// A link signed by an account key is applied by hosts that list that key among their link
// issuers (--link-issuers); changing any value breaks the signature.
func ExampleSignLink() {
	account, _ := lattice.CreateKeyPair(lattice.PrefixAccount)
	actor, _ := lattice.CreateKeyPair(lattice.PrefixModule)
	provider, _ := lattice.CreateKeyPair(lattice.PrefixService)
	l := lattice.LinkDefinition{
		ActorID:    actor.PublicKey(),
		ProviderID: provider.PublicKey(),
		ContractID: "wasmcloud:httpserver",
		LinkName:   "default",
		Values:     map[string]string{"ADDRESS": "0.0.0.0:8080"},
	}
	if err := lattice.SignLink(&l, account); err != nil {
		fmt.Println(err)
		return
	}
	issuers := []string{account.PublicKey()}
	fmt.Println(lattice.VerifyLink(&l, issuers, time.Now()))

	l.Values["ADDRESS"] = "0.0.0.0:9090"
	fmt.Println(lattice.VerifyLink(&l, issuers, time.Now()) != nil)
	// Output:
	// <nil>
	// true
}

// runExampleNATS starts an embedded NATS server with JetStream for an example and returns a
// connection to it and a function that stops both.
func runExampleNATS() (*nats.Conn, func(), error) {
	dir, err := os.MkdirTemp("", "trellis-example-")
	if err != nil {
		return nil, nil, err
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, nil, err
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return nil, nil, errors.New("nats server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return nil, nil, err
	}
	return nc, func() { nc.Close(); ns.Shutdown(); _ = os.RemoveAll(dir) }, nil
}

// Links live in the lattice's JetStream bucket: put one, then read it back by its identity
// (actor, contract, link name). Hosts watch the bucket and apply what is put there.
func ExampleStore() {
	nc, stop, err := runExampleNATS()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx := context.Background()
	js, _ := jetstream.New(nc)
	store, err := lattice.OpenStore(ctx, js, "example", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	actor, _ := lattice.CreateKeyPair(lattice.PrefixModule)
	provider, _ := lattice.CreateKeyPair(lattice.PrefixService)
	err = store.PutLink(ctx, lattice.LinkDefinition{
		ActorID: actor.PublicKey(), ProviderID: provider.PublicKey(),
		ContractID: "wasmcloud:keyvalue", LinkName: "default", Values: map[string]string{"URL": "redis://127.0.0.1:6379"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := store.Link(ctx, actor.PublicKey(), "wasmcloud:keyvalue", "default")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(store.Bucket(), l.Values["URL"], l.ProviderID == provider.PublicKey())
	// Output:
	// LATTICEDATA_example redis://127.0.0.1:6379 true
}

// shout is an actor stand-in: it answers every invocation with its payload in upper case.
type shout struct{}

func (shout) Name() string                         { return "actor shout" }
func (shout) Accept(inv *lattice.Invocation) error { return nil }
func (shout) Handle(_ context.Context, inv *lattice.Invocation) ([]byte, error) {
	return []byte(strings.ToUpper(string(inv.Msg))), nil
}

// The ctl client calls an actor with an invocation signed by the lattice's cluster seed; here a
// lattice.Server answers for the actor, as a host does for the actors it runs.
func ExampleClient_Call() {
	nc, stop, err := runExampleNATS()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	cluster, _ := lattice.CreateKeyPair(lattice.PrefixCluster)
	seed, _ := cluster.Seed()
	actor, _ := lattice.CreateKeyPair(lattice.PrefixModule)

	srv := &lattice.Server{Issuers: []string{cluster.PublicKey()}, Log: zerolog.Nop()}
	subject := lattice.NewSubjects("example").Actor(actor.PublicKey())
	sub, _ := nc.Subscribe(subject, func(m *nats.Msg) { srv.Respond(context.Background(), m, shout{}) })
	defer sub.Unsubscribe() //nolint:errcheck // the example's server stops anyway
	_ = nc.Flush()

	ctl, err := lattice.NewClient(nc, lattice.ClientConfig{Lattice: "example", ClusterSeed: seed})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := ctl.Call(context.Background(), actor.PublicKey(), "Shout.It", []byte("hello"))
	fmt.Println(string(out), err)

	// An actor that runs nowhere: the one "nothing is running to answer" error.
	other, _ := lattice.CreateKeyPair(lattice.PrefixModule)
	_, err = ctl.Call(context.Background(), other.PublicKey(), "Shout.It", nil)
	fmt.Println(errors.Is(err, lattice.ErrNoResponder))
	// Output:
	// HELLO <nil>
	// true
}
