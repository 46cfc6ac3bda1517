package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	msg "github.com/trellis-lattice/trellis/lattice/contracts/messaging"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/messaging"
)

// env is a lattice (embedded NATS), a messaging provider run by providers.Run on it, and the
// host side: a test connection and the cluster key that signs invocations.
type env struct {
	ns      *server.Server
	nc      *nats.Conn
	subj    lattice.Subjects
	cluster *lattice.KeyPair
	hd      lattice.HostData
	p       *messaging.Provider
	done    chan error
	cancel  context.CancelFunc
}

// start runs a messaging provider; edit may adjust its HostData.
func start(t *testing.T, edit func(*lattice.HostData)) *env {
	t.Helper()
	ns := latticetest.RunNATS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	e := &env{
		ns:      ns,
		nc:      latticetest.Connect(t, ns),
		subj:    lattice.NewSubjects("msgtest"),
		cluster: cluster,
	}
	e.hd = lattice.HostData{
		HostID:              latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix:    e.subj.Lattice,
		LinkName:            lattice.DefaultLinkName,
		LatticeRPCURL:       fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
		EnvValues:           map[string]string{},
		InstanceID:          uuid.NewString(),
		ProviderKey:         latticetest.Key(t, lattice.PrefixService).PublicKey(),
		DefaultRPCTimeoutMS: 2000,
		ClusterIssuers:      []string{cluster.PublicKey()},
		InvocationSeed:      seed,
	}
	if edit != nil {
		edit(&e.hd)
	}
	e.p, err = messaging.New(messaging.DefaultConfig())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- providers.Run(ctx, e.hd, e.p, providers.DefaultConfig(messaging.ContractID)) }()
	t.Cleanup(func() { e.stop(t) })
	e.waitHealthy(t)
	return e
}

// stop ends Run and checks it returned nil. It is idempotent.
func (e *env) stop(t *testing.T) {
	t.Helper()
	e.cancel()
	if e.done == nil {
		return
	}
	select {
	case err := <-e.done:
		require.NoError(t, err, "providers.Run")
	case <-time.After(10 * time.Second):
		t.Error("providers.Run did not return within 10s")
	}
	e.done = nil
}

// health asks the provider for its health.
func (e *env) health(t *testing.T) lattice.HealthReply {
	t.Helper()
	m, err := e.nc.Request(e.subj.ProviderHealth(e.hd.ProviderKey, e.hd.LinkName), nil, 5*time.Second)
	require.NoError(t, err)
	var h lattice.HealthReply
	require.NoError(t, lattice.Unmarshal(m.Data, &h))
	return h
}

func (e *env) waitHealthy(t *testing.T) {
	t.Helper()
	subject := e.subj.ProviderHealth(e.hd.ProviderKey, e.hd.LinkName)
	require.Eventually(t, func() bool {
		_, err := e.nc.Request(subject, nil, 200*time.Millisecond)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the provider never answered on %s", subject)
}

func (e *env) link(actor string, values map[string]string) lattice.LinkDefinition {
	l := lattice.LinkDefinition{
		ActorID: actor, ProviderID: e.hd.ProviderKey, LinkName: e.hd.LinkName,
		ContractID: messaging.ContractID, Values: values,
	}
	l.Normalize()
	return l
}

// linkRequest pushes a link put or del as a host does, with a reply subject so the SDK acks it
// once applied.
func (e *env) linkRequest(t *testing.T, kind string, l lattice.LinkDefinition) lattice.Ack {
	t.Helper()
	data, err := lattice.Marshal(l)
	require.NoError(t, err)
	subject := e.subj.ProviderLinkPut(e.hd.ProviderKey, e.hd.LinkName)
	if kind == "del" {
		subject = e.subj.ProviderLinkDel(e.hd.ProviderKey, e.hd.LinkName)
	}
	m, err := e.nc.Request(subject, data, 15*time.Second)
	require.NoError(t, err)
	var ack lattice.Ack
	require.NoError(t, json.Unmarshal(m.Data, &ack))
	return ack
}

// putLink links actor with values and requires the link to be accepted.
func (e *env) putLink(t *testing.T, actor string, values map[string]string) {
	t.Helper()
	ack := e.linkRequest(t, "put", e.link(actor, values))
	require.True(t, ack.Accepted, "link put: %s", ack.Error)
}

func (e *env) delLink(t *testing.T, actor string) {
	t.Helper()
	ack := e.linkRequest(t, "del", e.link(actor, nil))
	require.True(t, ack.Accepted, "link del: %s", ack.Error)
}

// invoke sends a signed invocation from actor to the provider over the lattice, as a host does.
func (e *env) invoke(nc *nats.Conn, actor, op string, payload []byte) ([]byte, error) {
	target := lattice.Entity{PublicKey: e.hd.ProviderKey, ContractID: messaging.ContractID, LinkName: e.hd.LinkName}
	inv, err := lattice.NewInvocation(e.cluster, e.hd.HostID, lattice.Entity{PublicKey: actor}, target, op, payload)
	if err != nil {
		return nil, err
	}
	data, err := inv.Encode()
	if err != nil {
		return nil, err
	}
	reply, err := nc.Request(e.subj.Provider(e.hd.ProviderKey, e.hd.LinkName), data, 5*time.Second)
	if err != nil {
		return nil, err
	}
	resp, err := lattice.DecodeInvocationResponse(reply.Data)
	if err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return resp.Msg, nil
}

// handle calls the provider's Handle directly, as the SDK does for a linked actor.
func (e *env) handle(actor, op string, payload []byte) ([]byte, error) {
	return e.p.Handle(context.Background(), providers.Invocation{
		Origin: lattice.Entity{PublicKey: actor}, Operation: op, Msg: payload, Link: e.link(actor, nil),
	})
}

// fakeActor answers invocations on an actor's subject as a host running it would, checking each
// one as a host does, and records the messages delivered to it.
type fakeActor struct {
	id  string
	got chan msg.SubMessage
	// reply, when set, is called for each message before the invocation is answered.
	reply func(m msg.SubMessage)
}

// actor starts a fake actor on e's lattice.
func (e *env) actor(t *testing.T, reply func(*fakeActor, msg.SubMessage)) *fakeActor {
	t.Helper()
	a := &fakeActor{id: latticetest.Key(t, lattice.PrefixModule).PublicKey(), got: make(chan msg.SubMessage, 1000)}
	if reply != nil {
		a.reply = func(m msg.SubMessage) { reply(a, m) }
	}
	nc := latticetest.Connect(t, e.ns)
	subject := e.subj.Actor(a.id)
	_, err := nc.QueueSubscribe(subject, subject, func(m *nats.Msg) {
		resp := &lattice.InvocationResponse{}
		if err := a.serve(e, m.Data, resp); err != nil {
			t.Errorf("fake actor %s: %v", a.id, err)
			resp.Error = err.Error()
		}
		data, err := resp.Encode()
		if err == nil {
			_ = m.Respond(data)
		}
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	return a
}

func (a *fakeActor) serve(e *env, data []byte, resp *lattice.InvocationResponse) error {
	inv, err := lattice.DecodeInvocation(data)
	if err != nil {
		return err
	}
	resp.InvocationID = inv.ID
	if err := inv.Validate(e.hd.ClusterIssuers, time.Now()); err != nil {
		return err
	}
	want := lattice.Entity{PublicKey: e.hd.ProviderKey, ContractID: messaging.ContractID, LinkName: e.hd.LinkName}
	if inv.Origin != want {
		return fmt.Errorf("origin %+v, want %+v", inv.Origin, want)
	}
	if inv.Target.PublicKey != a.id {
		return fmt.Errorf("target %s, want %s", inv.Target.PublicKey, a.id)
	}
	if inv.Operation != msg.OpHandleMessage {
		return fmt.Errorf("operation %q, want %q", inv.Operation, msg.OpHandleMessage)
	}
	m, err := msg.DecodeSubMessage(inv.Msg)
	if err != nil {
		return err
	}
	if a.reply != nil {
		a.reply(m)
	}
	a.got <- m
	return nil
}

// next waits for the next delivered message.
func (a *fakeActor) next(t *testing.T) msg.SubMessage {
	t.Helper()
	select {
	case m := <-a.got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("actor %s got no message within 5s", a.id)
		return msg.SubMessage{}
	}
}

// drain returns the messages delivered so far without waiting.
func (a *fakeActor) drain() []msg.SubMessage {
	var out []msg.SubMessage
	for {
		select {
		case m := <-a.got:
			out = append(out, m)
		default:
			return out
		}
	}
}

// connections returns the names of the client connections of s whose name mentions actor.
func connections(t *testing.T, s *server.Server, actor string) []string {
	t.Helper()
	cz, err := s.Connz(&server.ConnzOptions{})
	require.NoError(t, err)
	var out []string
	for _, c := range cz.Conns {
		if strings.Contains(c.Name, actor) {
			out = append(out, c.Name)
		}
	}
	return out
}

// noConnections waits until s has no client connection for actor (the server learns of a
// close asynchronously).
func noConnections(t *testing.T, s *server.Server, actor string) {
	t.Helper()
	require.Eventually(t, func() bool { return len(connections(t, s, actor)) == 0 }, 5*time.Second, 10*time.Millisecond,
		"connections of actor %s remain on %s", actor, s.ClientURL())
}

func encode(t *testing.T, v interface{ Encode() ([]byte, error) }) []byte {
	t.Helper()
	b, err := v.Encode()
	require.NoError(t, err)
	return b
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
