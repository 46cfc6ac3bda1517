// Package providertest is the conformance suite of Trellis capability providers: Run starts a
// provider with providers.Run against an in-process NATS server, plays a host towards it (links,
// health, invocations good and bad, shutdown) and checks that the SDK and the provider behave as
// PROTOCOL.md says. Every provider in this repository runs it in its tests.
//
// It imports providers, lattice and latticetest; never host or a provider package.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// Subject describes the provider under test.
type Subject struct {
	// New makes a fresh provider; it is called once per provider run (the suite runs several).
	New func(t *testing.T) providers.Provider
	// Config is passed to providers.Run. ContractID is required; a disabled Logger stays disabled.
	Config providers.Config
	// LinkValues returns the values of a link that works with this provider. It is called for every
	// link the suite puts, so it can pick fresh resources (such as a free port) each time. Nil
	// means no values.
	LinkValues func(t *testing.T) map[string]string
	// Probe exercises the provider for the linked actor in env and fails t when it does not work:
	// typically one valid invocation through env.Call, or for a provider that calls actors (an HTTP
	// server), a fake actor on env.NATS and a request from outside. It must leave the provider as
	// it found it, since the suite probes several times.
	Probe func(t *testing.T, env Env)
}

// Env is what a Probe gets: the lattice and a linked actor.
type Env struct {
	// NATS is a test connection to the lattice.
	NATS *nats.Conn
	// Subjects are the lattice's subjects (Actor(ActorID) is where the provider calls the actor).
	Subjects lattice.Subjects
	// HostData is what the provider was started with.
	HostData lattice.HostData
	// ActorID is the linked actor.
	ActorID string
	// Link is the actor's link, as put.
	Link lattice.LinkDefinition
	// Call sends a correctly signed invocation from ActorID to the provider and returns the reply
	// msg, or the response's error text as an error.
	Call func(operation string, msg []byte) ([]byte, error)
}

// Run runs the conformance suite against s. Each check is a subtest.
func Run(t *testing.T, s Subject) {
	t.Helper()
	require.NotNil(t, s.New, "providertest.Subject.New")
	require.NotNil(t, s.Probe, "providertest.Subject.Probe")
	require.NoError(t, s.Config.Validate())

	ns := latticetest.RunNATS(t)
	lat := newLattice(t, ns)

	t.Run("serving", func(t *testing.T) {
		pr := lat.start(t, s, nil)
		actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()

		t.Run("health answers healthy", func(t *testing.T) {
			h := pr.health(t)
			require.True(t, h.Healthy, "health message: %q", h.Message)
		})
		t.Run("unlinked actor is refused", func(t *testing.T) {
			_, err := pr.call(t, pr.invocation(t, actor, "Probe.Unlinked", []byte{0x80}))
			require.ErrorContains(t, err, "actor "+actor+" is not linked to provider "+pr.hd.ProviderKey)
		})
		var link lattice.LinkDefinition
		t.Run("link put then a valid invocation works", func(t *testing.T) {
			link = pr.putLink(t, s, actor)
			s.Probe(t, pr.env(actor, link))
		})
		t.Run("link for another provider is ignored", func(t *testing.T) {
			other := pr.linkFor(t, s, latticetest.Key(t, lattice.PrefixModule).PublicKey())
			other.ProviderID = latticetest.Key(t, lattice.PrefixService).PublicKey()
			ack := pr.linkRequest(t, "put", other)
			require.False(t, ack.Accepted)
			require.Contains(t, ack.Error, "another provider")
			_, err := pr.call(t, pr.invocation(t, other.ActorID, "Probe.Other", []byte{0x80}))
			require.ErrorContains(t, err, "is not linked to provider")
		})
		t.Run("forged invocation is refused", func(t *testing.T) {
			forger := latticetest.Key(t, lattice.PrefixCluster)
			inv, err := lattice.NewInvocation(forger, pr.hd.HostID, lattice.Entity{PublicKey: actor}, pr.target(), "Probe.Forged", []byte{0x80})
			require.NoError(t, err)
			_, err = pr.call(t, inv)
			require.ErrorContains(t, err, lattice.ErrForgedInvocation.Error())
			require.ErrorContains(t, err, "not a cluster issuer")
		})
		t.Run("tampered invocation is refused", func(t *testing.T) {
			inv := pr.invocation(t, actor, "Probe.Tampered", []byte{0x80})
			inv.Msg = []byte{0x81, 0xa1, 'x', 0x01}
			_, err := pr.call(t, inv)
			require.ErrorContains(t, err, lattice.ErrForgedInvocation.Error())
		})
		t.Run("invocation for another provider is refused", func(t *testing.T) {
			target := pr.target()
			target.PublicKey = latticetest.Key(t, lattice.PrefixService).PublicKey()
			inv, err := lattice.NewInvocation(lat.cluster, pr.hd.HostID, lattice.Entity{PublicKey: actor}, target, "Probe.WrongTarget", []byte{0x80})
			require.NoError(t, err)
			_, err = pr.call(t, inv)
			require.ErrorContains(t, err, providers.ErrWrongTarget.Error())
		})
		t.Run("invocation for another link name is refused", func(t *testing.T) {
			target := pr.target()
			target.LinkName = "other"
			inv, err := lattice.NewInvocation(lat.cluster, pr.hd.HostID, lattice.Entity{PublicKey: actor}, target, "Probe.WrongLink", []byte{0x80})
			require.NoError(t, err)
			_, err = pr.call(t, inv)
			require.ErrorContains(t, err, providers.ErrWrongTarget.Error())
		})
		t.Run("malformed msgpack gets an error response and the provider still serves", func(t *testing.T) {
			for _, garbage := range [][]byte{{0xc1}, {0x85, 0xa6, 'o', 'r'}, []byte("not msgpack at all"), {}} {
				resp := pr.raw(t, garbage)
				require.NotEmpty(t, resp.Error, "answer to %x", garbage)
				require.Contains(t, resp.Error, lattice.ErrMalformedMsgpack.Error())
			}
			h := pr.health(t)
			require.True(t, h.Healthy)
			s.Probe(t, pr.env(actor, link))
		})
		t.Run("malformed link is ignored", func(t *testing.T) {
			msg, err := lat.nc.Request(lat.subj.ProviderLinkPut(pr.hd.ProviderKey, pr.hd.LinkName), []byte{0xc1}, 5*time.Second)
			require.NoError(t, err)
			var ack lattice.Ack
			require.NoError(t, json.Unmarshal(msg.Data, &ack))
			require.False(t, ack.Accepted)
			require.Contains(t, ack.Error, lattice.ErrMalformedMsgpack.Error())
			s.Probe(t, pr.env(actor, link))
		})
		t.Run("link put again keeps serving", func(t *testing.T) {
			link = pr.putLink(t, s, actor)
			s.Probe(t, pr.env(actor, link))
		})
		t.Run("link del then the actor is refused", func(t *testing.T) {
			ack := pr.linkRequest(t, "del", lattice.LinkDefinition{
				ActorID: actor, ProviderID: pr.hd.ProviderKey, LinkName: pr.hd.LinkName, ContractID: s.Config.ContractID,
			})
			require.True(t, ack.Accepted, ack.Error)
			_, err := pr.call(t, pr.invocation(t, actor, "Probe.Deleted", []byte{0x80}))
			require.ErrorContains(t, err, "is not linked to provider")
		})
		t.Run("shutdown for another host is ignored", func(t *testing.T) {
			other := latticetest.Key(t, lattice.PrefixServer).PublicKey()
			_, err := lat.nc.Request(lat.subj.ProviderShutdown(pr.hd.ProviderKey, pr.hd.LinkName), fmt.Appendf(nil, `{"host_id":%q}`, other), 300*time.Millisecond)
			require.ErrorIs(t, err, nats.ErrTimeout)
			require.True(t, pr.health(t).Healthy)
		})
		t.Run("shutdown request stops Run with nil", func(t *testing.T) {
			msg, err := lat.nc.Request(lat.subj.ProviderShutdown(pr.hd.ProviderKey, pr.hd.LinkName), fmt.Appendf(nil, `{"host_id":%q}`, pr.hd.HostID), 5*time.Second)
			require.NoError(t, err)
			require.Equal(t, lattice.ShutdownAck, string(msg.Data))
			select {
			case err := <-pr.done:
				require.NoError(t, err)
				pr.done = nil
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return within 5s of the shutdown request")
			}
			_, err = lat.nc.Request(lat.subj.ProviderHealth(pr.hd.ProviderKey, pr.hd.LinkName), nil, time.Second)
			require.ErrorIs(t, err, nats.ErrNoResponders, "the provider still answers health checks after shutdown")
		})
	})

	t.Run("links from host data are applied before serving", func(t *testing.T) {
		actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
		pr := lat.start(t, s, func(hd *lattice.HostData, p *provider) {
			hd.LinkDefinitions = []lattice.LinkDefinition{p.linkFor(t, s, actor)}
		})
		pr.health(t)
		s.Probe(t, pr.env(actor, pr.hd.LinkDefinitions[0]))
	})

	t.Run("context cancel stops Run with nil", func(t *testing.T) {
		pr := lat.start(t, s, nil)
		pr.health(t)
		pr.cancel()
		select {
		case err := <-pr.done:
			require.NoError(t, err)
			pr.done = nil
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return within 5s of its context ending")
		}
	})
}

// testLattice is the fake host side: a NATS connection and the lattice's cluster key.
type testLattice struct {
	ns      *server.Server
	nc      *nats.Conn
	subj    lattice.Subjects
	cluster *lattice.KeyPair
	seed    string
}

func newLattice(t *testing.T, ns *server.Server) *testLattice {
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	return &testLattice{
		ns:      ns,
		nc:      latticetest.Connect(t, ns),
		subj:    lattice.NewSubjects("conformance"),
		cluster: cluster,
		seed:    seed,
	}
}

// hostData is the HostData of a fresh provider on the lattice, as a host would write it.
func (lat *testLattice) hostData(t testing.TB) lattice.HostData {
	return lattice.HostData{
		HostID:              latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix:    lat.subj.Lattice,
		LinkName:            lattice.DefaultLinkName,
		LatticeRPCURL:       fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, lat.ns)),
		EnvValues:           map[string]string{},
		InstanceID:          uuid.NewString(),
		ProviderKey:         latticetest.Key(t, lattice.PrefixService).PublicKey(),
		DefaultRPCTimeoutMS: 2000,
		ClusterIssuers:      []string{lat.cluster.PublicKey()},
		InvocationSeed:      lat.seed,
	}
}

// provider is one providers.Run under test.
type provider struct {
	lat    *testLattice
	hd     lattice.HostData
	cfg    providers.Config
	cancel context.CancelFunc
	done   chan error // nil once Run's result was read
}

// start runs a fresh provider; edit may adjust its HostData.
func (lat *testLattice) start(t *testing.T, s Subject, edit func(*lattice.HostData, *provider)) *provider {
	t.Helper()
	pr := &provider{lat: lat, hd: lat.hostData(t), cfg: s.Config}
	if edit != nil {
		edit(&pr.hd, pr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr.cancel = cancel
	pr.done = make(chan error, 1)
	p := s.New(t)
	go func() { pr.done <- providers.Run(ctx, pr.hd, p, pr.cfg) }()
	t.Cleanup(func() {
		cancel()
		if pr.done == nil {
			return
		}
		select {
		case err := <-pr.done:
			if err != nil {
				t.Errorf("providers.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("providers.Run did not return within 10s of its context ending")
		}
	})
	return pr
}

// health waits until the provider answers a health check and returns the answer.
func (p *provider) health(t *testing.T) lattice.HealthReply {
	t.Helper()
	subject := p.lat.subj.ProviderHealth(p.hd.ProviderKey, p.hd.LinkName)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.done != nil {
			select {
			case err := <-p.done:
				p.done = nil
				t.Fatalf("providers.Run returned before answering health checks: %v", err)
			default:
			}
		}
		msg, err := p.lat.nc.Request(subject, nil, time.Second)
		if err == nil {
			var h lattice.HealthReply
			require.NoError(t, lattice.Unmarshal(msg.Data, &h), "health answer must be msgpack {healthy, message}")
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("no health answer on %s within 10s: %v", subject, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *provider) target() lattice.Entity {
	return lattice.Entity{PublicKey: p.hd.ProviderKey, ContractID: p.cfg.ContractID, LinkName: p.hd.LinkName}
}

// invocation is a correctly signed invocation of the provider from actor.
func (p *provider) invocation(t *testing.T, actor, op string, msg []byte) *lattice.Invocation {
	t.Helper()
	inv, err := lattice.NewInvocation(p.lat.cluster, p.hd.HostID, lattice.Entity{PublicKey: actor}, p.target(), op, msg)
	require.NoError(t, err)
	return inv
}

// raw sends bytes on the provider's invocation subject and decodes the response.
func (p *provider) raw(t *testing.T, data []byte) *lattice.InvocationResponse {
	t.Helper()
	msg, err := p.lat.nc.Request(p.lat.subj.Provider(p.hd.ProviderKey, p.hd.LinkName), data, 5*time.Second)
	require.NoError(t, err)
	resp, err := lattice.DecodeInvocationResponse(msg.Data)
	require.NoError(t, err, "the provider's answer must be a msgpack InvocationResponse")
	return resp
}

// call sends an invocation and returns the reply msg or the response error.
func (p *provider) call(t *testing.T, inv *lattice.Invocation) ([]byte, error) {
	t.Helper()
	data, err := inv.Encode()
	require.NoError(t, err)
	resp := p.raw(t, data)
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	require.Equal(t, inv.ID, resp.InvocationID, "response invocation_id")
	return resp.Msg, nil
}

func (p *provider) linkFor(t *testing.T, s Subject, actor string) lattice.LinkDefinition {
	values := map[string]string{}
	if s.LinkValues != nil {
		values = s.LinkValues(t)
	}
	l := lattice.LinkDefinition{ActorID: actor, ProviderID: p.hd.ProviderKey, LinkName: p.hd.LinkName, ContractID: s.Config.ContractID, Values: values}
	l.Normalize()
	return l
}

// putLink pushes a fresh link for actor and waits until it is applied.
func (p *provider) putLink(t *testing.T, s Subject, actor string) lattice.LinkDefinition {
	t.Helper()
	l := p.linkFor(t, s, actor)
	ack := p.linkRequest(t, "put", l)
	require.True(t, ack.Accepted, "link put: %s", ack.Error)
	return l
}

// linkRequest pushes a link as msgpack on .linkdefs.put/.del with a reply subject, so the
// provider acknowledges once it has applied it.
func (p *provider) linkRequest(t *testing.T, kind string, l lattice.LinkDefinition) lattice.Ack {
	t.Helper()
	data, err := lattice.Marshal(l)
	require.NoError(t, err)
	subject := p.lat.subj.ProviderLinkPut(p.hd.ProviderKey, p.hd.LinkName)
	if kind == "del" {
		subject = p.lat.subj.ProviderLinkDel(p.hd.ProviderKey, p.hd.LinkName)
	}
	msg, err := p.lat.nc.Request(subject, data, 15*time.Second)
	require.NoError(t, err, "link %s on %s", kind, subject)
	var ack lattice.Ack
	require.NoError(t, json.Unmarshal(msg.Data, &ack))
	return ack
}

func (p *provider) env(actor string, link lattice.LinkDefinition) Env {
	return Env{
		NATS:     p.lat.nc,
		Subjects: p.lat.subj,
		HostData: p.hd,
		ActorID:  actor,
		Link:     link,
		Call: func(op string, msg []byte) ([]byte, error) {
			inv, err := lattice.NewInvocation(p.lat.cluster, p.hd.HostID, lattice.Entity{PublicKey: actor}, p.target(), op, msg)
			if err != nil {
				return nil, err
			}
			data, err := inv.Encode()
			if err != nil {
				return nil, err
			}
			reply, err := p.lat.nc.Request(p.lat.subj.Provider(p.hd.ProviderKey, p.hd.LinkName), data, 5*time.Second)
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
		},
	}
}
