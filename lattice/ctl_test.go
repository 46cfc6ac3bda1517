package lattice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// ctlLattice is a NATS server, a connection for in-test responders and a ctl client on its own
// connection.
type ctlLattice struct {
	nc      *nats.Conn // the responders' connection
	ctl     *lattice.Client
	subj    lattice.Subjects
	cluster *lattice.KeyPair
}

func newCtlLattice(t *testing.T, edit func(*lattice.ClientConfig)) *ctlLattice {
	t.Helper()
	s := latticetest.RunNATS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	cfg := lattice.ClientConfig{Lattice: "ctltest", ClusterSeed: seed}
	if edit != nil {
		edit(&cfg)
	}
	ctl, err := lattice.NewClient(latticetest.Connect(t, s), cfg)
	require.NoError(t, err)
	return &ctlLattice{nc: latticetest.Connect(t, s), ctl: ctl, subj: lattice.NewSubjects("ctltest"), cluster: cluster}
}

// respond answers every request on subject with what reply returns (nothing when it returns nil)
// and records the requests' payloads.
func (l *ctlLattice) respond(t *testing.T, subject string, reply func(req []byte) []byte) *payloads {
	t.Helper()
	got := &payloads{}
	sub, err := l.nc.Subscribe(subject, func(m *nats.Msg) {
		got.add(m.Data)
		if out := reply(m.Data); out != nil {
			_ = m.Respond(out)
		}
	})
	require.NoError(t, err)
	require.NoError(t, l.nc.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return got
}

func fixed(v any) func([]byte) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return func([]byte) []byte { return data }
}

type payloads struct {
	mu   sync.Mutex
	data [][]byte
}

func (p *payloads) add(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.data = append(p.data, bytes.Clone(b))
}

func (p *payloads) last(t *testing.T, v any) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NotEmpty(t, p.data, "no request received")
	require.NoError(t, json.Unmarshal(p.data[len(p.data)-1], v))
}

func TestClientConfig(t *testing.T) {
	nc := latticetest.Connect(t, latticetest.RunNATS(t))
	account := latticetest.Key(t, lattice.PrefixAccount)
	accountSeed, err := account.Seed()
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		cfg  lattice.ClientConfig
		want string
	}{
		{"zero value", lattice.ClientConfig{}, ""},
		{"defaults", lattice.DefaultClientConfig(), ""},
		{"dotted lattice", lattice.ClientConfig{Lattice: "a.b"}, "lattice name"},
		{"wildcard lattice", lattice.ClientConfig{Lattice: ">"}, "lattice name"},
		{"negative timeout", lattice.ClientConfig{Timeout: -time.Second}, "timeout"},
		{"bad seed", lattice.ClientConfig{ClusterSeed: "SCnope"}, "cluster seed"},
		{"account seed", lattice.ClientConfig{ClusterSeed: accountSeed}, "want a cluster seed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := lattice.NewClient(nc, tc.cfg)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, "default", c.Lattice())
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, tc.cfg.Validate(), tc.want)
		})
	}
	_, err = lattice.NewClient(nil, lattice.ClientConfig{})
	require.Error(t, err)
}

func TestClientCommandAcks(t *testing.T) {
	l := newCtlLattice(t, nil)
	host := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	link := lattice.LinkDefinition{ActorID: actor, ProviderID: provider, ContractID: "wasmcloud:httpserver",
		Values: map[string]string{"ADDRESS": "0.0.0.0:8080"}, Status: "signed"}

	for _, tc := range []struct {
		name    string
		subject string
		send    func(ctx context.Context) error
		check   func(t *testing.T, p *payloads)
	}{
		{"start actor", l.subj.Command(host, lattice.CmdLaunchActor),
			func(ctx context.Context) error {
				return l.ctl.StartActor(ctx, lattice.StartActorCommand{HostID: host, ActorRef: "127.0.0.1:5000/echo:0.1.0"})
			},
			func(t *testing.T, p *payloads) {
				var cmd lattice.StartActorCommand
				p.last(t, &cmd)
				require.Equal(t, lattice.StartActorCommand{HostID: host, ActorRef: "127.0.0.1:5000/echo:0.1.0", Count: 1}, cmd)
			}},
		{"stop actor", l.subj.Command(host, lattice.CmdStopActor),
			func(ctx context.Context) error {
				return l.ctl.StopActor(ctx, lattice.StopActorCommand{HostID: host, ActorRef: actor})
			},
			func(t *testing.T, p *payloads) {
				var cmd lattice.StopActorCommand
				p.last(t, &cmd)
				require.Equal(t, actor, cmd.ActorRef)
				require.Zero(t, cmd.Count)
			}},
		{"scale actor", l.subj.Command(host, lattice.CmdScaleActor),
			func(ctx context.Context) error {
				return l.ctl.ScaleActor(ctx, lattice.ScaleActorCommand{HostID: host, ActorID: actor, ActorRef: "r", Count: 3})
			},
			func(t *testing.T, p *payloads) {
				var cmd lattice.ScaleActorCommand
				p.last(t, &cmd)
				require.EqualValues(t, 3, cmd.Count)
			}},
		{"update actor", l.subj.Command(host, lattice.CmdUpdateActor),
			func(ctx context.Context) error {
				return l.ctl.UpdateActor(ctx, lattice.UpdateActorCommand{HostID: host, ActorID: actor, NewActorRef: "r:2"})
			},
			func(t *testing.T, p *payloads) {
				var cmd lattice.UpdateActorCommand
				p.last(t, &cmd)
				require.Equal(t, "r:2", cmd.NewActorRef)
			}},
		{"start provider", l.subj.Command(host, lattice.CmdLaunchProvider),
			func(ctx context.Context) error {
				return l.ctl.StartProvider(ctx, lattice.StartProviderCommand{HostID: host, ProviderRef: "httpserver.par.gz"})
			},
			func(t *testing.T, p *payloads) {
				var cmd lattice.StartProviderCommand
				p.last(t, &cmd)
				require.Equal(t, "default", cmd.LinkName)
			}},
		{"stop provider", l.subj.Command(host, lattice.CmdStopProvider),
			func(ctx context.Context) error {
				return l.ctl.StopProvider(ctx, lattice.StopProviderCommand{HostID: host, ProviderRef: provider, ContractID: "wasmcloud:httpserver"})
			},
			func(t *testing.T, p *payloads) {
				var cmd lattice.StopProviderCommand
				p.last(t, &cmd)
				require.Equal(t, "default", cmd.LinkName)
				require.Equal(t, "wasmcloud:httpserver", cmd.ContractID)
			}},
		{"stop host", l.subj.Command(host, lattice.CmdStopHost),
			func(ctx context.Context) error { return l.ctl.StopHost(ctx, host, 1500*time.Millisecond) },
			func(t *testing.T, p *payloads) {
				var cmd lattice.StopHostCommand
				p.last(t, &cmd)
				require.Equal(t, lattice.StopHostCommand{HostID: host, Timeout: 1500}, cmd)
			}},
		{"put link", l.subj.LinkPut(),
			func(ctx context.Context) error { return l.ctl.PutLink(ctx, link) },
			func(t *testing.T, p *payloads) {
				var raw map[string]any
				p.last(t, &raw)
				require.Equal(t, lattice.LinkID(actor, "wasmcloud:httpserver", "default"), raw["id"])
				require.Equal(t, "default", raw["link_name"])
				require.NotContains(t, raw, "status")
			}},
		{"delete link", l.subj.LinkDel(),
			func(ctx context.Context) error { return l.ctl.DeleteLink(ctx, actor, "wasmcloud:httpserver", "") },
			func(t *testing.T, p *payloads) {
				var d lattice.LinkDelete
				p.last(t, &d)
				require.Equal(t, lattice.LinkDelete{ActorID: actor, ContractID: "wasmcloud:httpserver", LinkName: "default"}, d)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			accept := true
			var mu sync.Mutex
			got := l.respond(t, tc.subject, func([]byte) []byte {
				mu.Lock()
				defer mu.Unlock()
				if accept {
					return []byte(`{"accepted":true,"error":""}`)
				}
				return []byte(`{"accepted":false,"error":"actor reference is not allowed"}`)
			})

			require.NoError(t, tc.send(ctx))
			tc.check(t, got)

			mu.Lock()
			accept = false
			mu.Unlock()
			err := tc.send(ctx)
			require.ErrorIs(t, err, lattice.ErrRefused)
			require.ErrorContains(t, err, "actor reference is not allowed")
			require.ErrorContains(t, err, tc.subject)
			var refused *lattice.RefusedError
			require.ErrorAs(t, err, &refused)
			require.Equal(t, "actor reference is not allowed", refused.Reason)
			require.Equal(t, tc.subject, refused.Subject)
		})
	}
}

func TestClientCommandErrors(t *testing.T) {
	l := newCtlLattice(t, func(c *lattice.ClientConfig) { c.Timeout = 300 * time.Millisecond })
	ctx := context.Background()
	host := latticetest.Key(t, lattice.PrefixServer).PublicKey()

	t.Run("host id required", func(t *testing.T) {
		err := l.ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: "r"})
		require.ErrorIs(t, err, lattice.ErrHostIDRequired)
		require.ErrorContains(t, err, "trellis ctl get hosts")
		_, err = l.ctl.GetInventory(ctx, "")
		require.ErrorIs(t, err, lattice.ErrHostIDRequired)
		require.ErrorIs(t, l.ctl.StopHost(ctx, "", 0), lattice.ErrHostIDRequired)
		// A host id that is not one could address another subject.
		err = l.ctl.StopActor(ctx, lattice.StopActorCommand{HostID: "x.la", ActorRef: "r"})
		require.ErrorContains(t, err, "host id")
	})

	t.Run("missing fields fail before sending", func(t *testing.T) {
		require.ErrorContains(t, l.ctl.StartActor(ctx, lattice.StartActorCommand{HostID: host}), "actor_ref")
		require.ErrorContains(t, l.ctl.PutLink(ctx, lattice.LinkDefinition{ActorID: "echo"}), "actor_id")
		require.ErrorContains(t, l.ctl.DeleteLink(ctx, "", "", ""), "required")
	})

	t.Run("no responders", func(t *testing.T) {
		err := l.ctl.StartActor(ctx, lattice.StartActorCommand{HostID: host, ActorRef: "r"})
		require.ErrorIs(t, err, lattice.ErrNoHost)
		require.ErrorContains(t, err, l.subj.Command(host, lattice.CmdLaunchActor))
		require.ErrorContains(t, err, "is host "+host+" running on lattice ctltest?")

		_, err = l.ctl.GetClaims(ctx)
		require.ErrorIs(t, err, lattice.ErrNoHost)
		require.ErrorContains(t, err, "no host answered on "+l.subj.GetClaims()+": is a host running on lattice ctltest?")
	})

	t.Run("malformed ack", func(t *testing.T) {
		l.respond(t, l.subj.Command(host, lattice.CmdScaleActor), func([]byte) []byte { return []byte("ok!") })
		err := l.ctl.ScaleActor(ctx, lattice.ScaleActorCommand{HostID: host, ActorID: "M"})
		require.ErrorContains(t, err, "malformed ack")
	})

	t.Run("refused without reason", func(t *testing.T) {
		l.respond(t, l.subj.Command(host, lattice.CmdUpdateActor), fixed(lattice.Ack{}))
		err := l.ctl.UpdateActor(ctx, lattice.UpdateActorCommand{HostID: host, ActorID: "M", NewActorRef: "r"})
		require.ErrorIs(t, err, lattice.ErrRefused)
		require.ErrorContains(t, err, "no reason given")
	})

	t.Run("timeout", func(t *testing.T) {
		l.respond(t, l.subj.Command(host, lattice.CmdStopHost), func([]byte) []byte { return nil })
		err := l.ctl.StopHost(ctx, host, 0)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "no answer on "+l.subj.Command(host, lattice.CmdStopHost)+" within 300ms")

		// A context deadline replaces the configured timeout.
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		err = l.ctl.StopHost(dctx, host, 0)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotContains(t, err.Error(), "within 300ms")
	})
}

func TestClientQueries(t *testing.T) {
	l := newCtlLattice(t, nil)
	ctx := context.Background()
	host := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()

	l.respond(t, l.subj.Inventory(host), fixed(lattice.HostInventory{HostID: host, FriendlyName: "blue-sky",
		Actors: []lattice.ActorDescription{{ID: actor, ImageRef: "echo:0.1", Instances: []lattice.ActorInstance{{InstanceID: "i1"}}}}}))
	l.respond(t, l.subj.GetClaims(), fixed(lattice.ClaimsList{Claims: []map[string]string{{"sub": actor, "name": "echo"}}}))
	l.respond(t, l.subj.GetLinks(), fixed(lattice.LinkList{Links: []lattice.LinkDefinition{
		{ID: "X", ActorID: actor, ProviderID: provider, ContractID: "wasmcloud:httpserver", LinkName: "default", Status: "unsigned"}}}))

	inv, err := l.ctl.GetInventory(ctx, host)
	require.NoError(t, err)
	require.Equal(t, "blue-sky", inv.FriendlyName)
	require.Len(t, inv.Actors, 1)
	require.NotNil(t, inv.Providers)

	claims, err := l.ctl.GetClaims(ctx)
	require.NoError(t, err)
	require.Equal(t, []map[string]string{{"sub": actor, "name": "echo"}}, claims)

	links, err := l.ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Len(t, links, 1)
	require.Equal(t, "unsigned", links[0].Status)

	other := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	l.respond(t, l.subj.Inventory(other), func([]byte) []byte { return []byte("[1,2]") })
	_, err = l.ctl.GetInventory(ctx, other)
	require.ErrorContains(t, err, "malformed reply on "+l.subj.Inventory(other))
}

func TestClientGetHosts(t *testing.T) {
	// A long timeout: GetHosts must end on the quiet period, not on the timeout.
	l := newCtlLattice(t, func(c *lattice.ClientConfig) {
		c.Timeout = 20 * time.Second
		c.HostsQuietPeriod = 100 * time.Millisecond
	})
	ctx := context.Background()

	start := time.Now()
	hosts, err := l.ctl.GetHosts(ctx)
	require.NoError(t, err)
	require.Empty(t, hosts)
	require.NotNil(t, hosts)
	require.Less(t, time.Since(start), 10*time.Second, "no responders ends the wait")

	a := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	b := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	l.respond(t, l.subj.PingHosts(), fixed(lattice.Host{ID: b, FriendlyName: "b", LatticePrefix: "ctltest"}))
	l.respond(t, l.subj.PingHosts(), fixed(lattice.Host{ID: a, FriendlyName: "a", Labels: map[string]string{"zone": "x"}}))
	l.respond(t, l.subj.PingHosts(), func([]byte) []byte { return []byte("not a host") })

	start = time.Now()
	hosts, err = l.ctl.GetHosts(ctx)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 10*time.Second, "the quiet period ends the wait")
	require.Len(t, hosts, 2)
	want := []string{a, b}
	if b < a {
		want = []string{b, a}
	}
	require.Equal(t, want, []string{hosts[0].ID, hosts[1].ID}, "sorted by id")
	for _, h := range hosts {
		if h.ID == a {
			require.Equal(t, "x", h.Labels["zone"])
		}
	}
}

func TestClientGetHostsOnlyMalformed(t *testing.T) {
	l := newCtlLattice(t, func(c *lattice.ClientConfig) { c.Timeout = 500 * time.Millisecond })
	l.respond(t, l.subj.PingHosts(), func([]byte) []byte { return []byte(`{"id":""}`) })
	_, err := l.ctl.GetHosts(context.Background())
	require.ErrorContains(t, err, "none usable")
	require.ErrorContains(t, err, "without an id")
}

func TestClientAuctions(t *testing.T) {
	l := newCtlLattice(t, func(c *lattice.ClientConfig) { c.AuctionTimeout = 300 * time.Millisecond })
	ctx := context.Background()
	a := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	b := latticetest.Key(t, lattice.PrefixServer).PublicKey()

	for _, h := range []string{a, b} {
		l.respond(t, l.subj.AuctionActor(), func(req []byte) []byte {
			var r lattice.ActorAuctionRequest
			if err := json.Unmarshal(req, &r); err != nil {
				return nil
			}
			out, _ := json.Marshal(lattice.ActorAuctionAck{ActorRef: r.ActorRef, Constraints: r.Constraints, HostID: h})
			return out
		})
		l.respond(t, l.subj.AuctionProvider(), func(req []byte) []byte {
			var r lattice.ProviderAuctionRequest
			if err := json.Unmarshal(req, &r); err != nil {
				return nil
			}
			out, _ := json.Marshal(lattice.ProviderAuctionAck{ProviderRef: r.ProviderRef, LinkName: r.LinkName, Constraints: r.Constraints, HostID: h})
			return out
		})
	}
	// A host whose labels do not match stays silent; a broken one answers garbage.
	l.respond(t, l.subj.AuctionActor(), func([]byte) []byte { return nil })
	l.respond(t, l.subj.AuctionActor(), func([]byte) []byte { return []byte("{") })

	acks, err := l.ctl.AuctionActor(ctx, lattice.ActorAuctionRequest{ActorRef: "echo:0.1", Constraints: map[string]string{"zone": "x"}})
	require.NoError(t, err)
	require.Len(t, acks, 2)
	require.True(t, acks[0].HostID < acks[1].HostID)
	require.Equal(t, "echo:0.1", acks[0].ActorRef)
	require.Equal(t, map[string]string{"zone": "x"}, acks[1].Constraints)

	packs, err := l.ctl.AuctionProvider(ctx, lattice.ProviderAuctionRequest{ProviderRef: "httpserver:0.1"})
	require.NoError(t, err)
	require.Len(t, packs, 2)
	require.Equal(t, "default", packs[0].LinkName)
	require.NotNil(t, packs[0].Constraints, "constraints are sent as an object, never null")

	_, err = l.ctl.AuctionActor(ctx, lattice.ActorAuctionRequest{})
	require.ErrorContains(t, err, "actor_ref")

	// Nobody listening: no winners, at once.
	empty := newCtlLattice(t, func(c *lattice.ClientConfig) { c.AuctionTimeout = 20 * time.Second })
	start := time.Now()
	acks, err = empty.ctl.AuctionActor(ctx, lattice.ActorAuctionRequest{ActorRef: "echo:0.1"})
	require.NoError(t, err)
	require.Empty(t, acks)
	require.Less(t, time.Since(start), 10*time.Second)

	// A cancelled context is an error, not an empty auction.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.ctl.AuctionActor(cctx, lattice.ActorAuctionRequest{ActorRef: "echo:0.1"})
	require.ErrorIs(t, err, context.Canceled)
}

func TestClientPutRegistries(t *testing.T) {
	l := newCtlLattice(t, nil)
	got := l.respond(t, l.subj.RegistriesPut(), func([]byte) []byte { return nil })
	creds := lattice.RegistryCredentialMap{"127.0.0.1:5000": {RegistryType: "oci", Username: "u", Password: "p"}}
	require.NoError(t, l.ctl.PutRegistries(context.Background(), creds))
	require.Eventually(t, func() bool {
		got.mu.Lock()
		defer got.mu.Unlock()
		return len(got.data) == 1
	}, 5*time.Second, 10*time.Millisecond)
	var received lattice.RegistryCredentialMap
	got.last(t, &received)
	require.Equal(t, creds, received)
}

// actorResponder answers invocations of actor like a host would, after the anti-forgery checks.
func (l *ctlLattice) actorResponder(t *testing.T, actor string, handle func(inv *lattice.Invocation) lattice.InvocationResponse) {
	t.Helper()
	subject := l.subj.Actor(actor)
	js := latticetest.JetStream(t, l.nc)
	sub, err := l.nc.QueueSubscribe(subject, subject, func(m *nats.Msg) {
		var resp lattice.InvocationResponse
		inv, err := lattice.DecodeInvocation(m.Data)
		switch {
		case err != nil:
			resp.Error = err.Error()
		default:
			resp.InvocationID = inv.ID
			// Validate hashes the whole payload: a chunked one is read from the object store.
			checked := *inv
			if len(inv.Msg) == 0 && inv.ContentLength != nil && *inv.ContentLength > 0 {
				if store, err := js.ObjectStore(context.Background(), l.subj.ObjectStore()); err == nil {
					checked.Msg, _ = store.GetBytes(context.Background(), inv.ID)
				}
			}
			if err := checked.Validate([]string{l.cluster.PublicKey()}, time.Now()); err != nil {
				resp.Error = err.Error()
			} else if inv.Target.PublicKey != actor {
				resp.Error = "wrong target " + inv.Target.PublicKey
			} else {
				resp = handle(inv)
				resp.InvocationID = inv.ID
			}
		}
		out, err := resp.Encode()
		if err != nil {
			panic(err)
		}
		_ = m.Respond(out)
	})
	require.NoError(t, err)
	require.NoError(t, l.nc.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

func TestClientCall(t *testing.T) {
	l := newCtlLattice(t, nil)
	ctx := context.Background()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	var (
		mu     sync.Mutex
		origin lattice.Entity
	)
	l.actorResponder(t, actor, func(inv *lattice.Invocation) lattice.InvocationResponse {
		mu.Lock()
		origin = inv.Origin
		mu.Unlock()
		switch inv.Operation {
		case "Echo.Say":
			return lattice.InvocationResponse{Msg: append([]byte("you said: "), inv.Msg...)}
		case "Echo.Empty":
			return lattice.InvocationResponse{}
		}
		return lattice.InvocationResponse{Error: "operation " + inv.Operation + " is not handled"}
	})

	out, err := l.ctl.Call(ctx, actor, "Echo.Say", []byte("hi"))
	require.NoError(t, err)
	require.Equal(t, "you said: hi", string(out))
	mu.Lock()
	require.Equal(t, lattice.Entity{PublicKey: l.ctl.OriginKey(), LinkName: "default"}, origin)
	mu.Unlock()
	require.True(t, lattice.IsValidPublicKey(lattice.PrefixModule, l.ctl.OriginKey()))

	out, err = l.ctl.Call(ctx, actor, "Echo.Empty", nil)
	require.NoError(t, err)
	require.NotNil(t, out)
	require.Empty(t, out)

	_, err = l.ctl.Call(ctx, actor, "Echo.Shout", []byte("hi"))
	require.ErrorIs(t, err, lattice.ErrInvocation)
	require.ErrorContains(t, err, "operation Echo.Shout is not handled")

	// Signed with another cluster's key: the responder's anti-forgery check refuses it.
	stranger := newCtlLattice(t, nil)
	strangerSeed, err := stranger.cluster.Seed()
	require.NoError(t, err)
	forger, err := lattice.NewClient(l.nc, lattice.ClientConfig{Lattice: "ctltest", ClusterSeed: strangerSeed})
	require.NoError(t, err)
	_, err = forger.Call(ctx, actor, "Echo.Say", []byte("hi"))
	require.ErrorIs(t, err, lattice.ErrInvocation)
	require.ErrorContains(t, err, "not a cluster issuer")

	other := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	_, err = l.ctl.Call(ctx, other, "Echo.Say", nil)
	require.ErrorIs(t, err, lattice.ErrNoResponder)
	require.ErrorContains(t, err, l.subj.Actor(other))

	_, err = l.ctl.Call(ctx, "echo", "Echo.Say", nil)
	require.ErrorContains(t, err, "actor id")
	_, err = l.ctl.Call(ctx, actor, "", nil)
	require.ErrorContains(t, err, "operation is empty")

	unsigned, err := lattice.NewClient(l.nc, lattice.ClientConfig{Lattice: "ctltest"})
	require.NoError(t, err)
	_, err = unsigned.Call(ctx, actor, "Echo.Say", nil)
	require.ErrorIs(t, err, lattice.ErrNoClusterSeed)
}

func TestClientCallTimeout(t *testing.T) {
	l := newCtlLattice(t, func(c *lattice.ClientConfig) { c.Timeout = 200 * time.Millisecond })
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	l.respond(t, l.subj.Actor(actor), func([]byte) []byte { return nil })
	_, err := l.ctl.Call(context.Background(), actor, "Echo.Say", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "within 200ms")
}

func TestClientCallChunked(t *testing.T) {
	l := newCtlLattice(t, func(c *lattice.ClientConfig) { c.Timeout = 10 * time.Second })
	ctx := context.Background()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	js := latticetest.JetStream(t, l.nc)
	big := bytes.Repeat([]byte("0123456789abcdef"), (lattice.MaxInlinePayload/16)+100)
	reply := bytes.Repeat([]byte("z"), 2*lattice.MaxInlinePayload)

	l.actorResponder(t, actor, func(inv *lattice.Invocation) lattice.InvocationResponse {
		store, err := js.ObjectStore(ctx, l.subj.ObjectStore())
		if err != nil {
			return lattice.InvocationResponse{Error: "object store: " + err.Error()}
		}
		if len(inv.Msg) != 0 || inv.ContentLength == nil || *inv.ContentLength != uint64(len(big)) {
			return lattice.InvocationResponse{Error: "request was not chunked"}
		}
		got, err := store.GetBytes(ctx, inv.ID)
		if err != nil || !bytes.Equal(got, big) {
			return lattice.InvocationResponse{Error: "chunked request not found or different"}
		}
		if _, err := store.PutBytes(ctx, inv.ID+"-r", reply); err != nil {
			return lattice.InvocationResponse{Error: err.Error()}
		}
		n := uint64(len(reply))
		return lattice.InvocationResponse{ContentLength: &n}
	})

	out, err := l.ctl.Call(ctx, actor, "Blob.Put", big)
	require.NoError(t, err)
	require.Equal(t, reply, out)
}

func TestClientEvents(t *testing.T) {
	l := newCtlLattice(t, nil)
	ctx := context.Background()
	host := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	publish := func(name string, data any) {
		t.Helper()
		e, err := lattice.NewEvent(name, host, data)
		require.NoError(t, err)
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		require.NoError(t, l.nc.Publish(l.subj.Events(), raw))
	}

	var (
		mu   sync.Mutex
		seen []string
	)
	unsubscribe, err := l.ctl.Subscribe(func(e lattice.CloudEvent) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.Name())
	})
	require.NoError(t, err)

	isStarted := func(ref string) func(lattice.CloudEvent) bool {
		return func(e lattice.CloudEvent) bool {
			var d lattice.ActorStartedData
			return e.Name() == lattice.EventActorStarted && e.Source == host && e.DecodeData(&d) == nil && d.ImageRef == ref
		}
	}
	w, err := l.ctl.NewWaiter(isStarted("echo:0.1"))
	require.NoError(t, err)

	require.NoError(t, l.nc.Publish(l.subj.Events(), []byte("not an event")))
	require.NoError(t, l.nc.Publish(l.subj.Events(), []byte(`{"data":{}}`)))
	publish(lattice.EventActorStarted, lattice.ActorStartedData{ImageRef: "other:0.1", InstanceID: "0"})
	publish(lattice.EventActorStarted, lattice.ActorStartedData{ImageRef: "echo:0.1", InstanceID: "1"})
	publish(lattice.EventActorStarted, lattice.ActorStartedData{ImageRef: "echo:0.1", InstanceID: "2"})

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, want := range []string{"1", "2"} {
		e, err := w.Wait(wctx)
		require.NoError(t, err)
		var d lattice.ActorStartedData
		require.NoError(t, e.DecodeData(&d))
		require.Equal(t, want, d.InstanceID, "matching events come in order")
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	_, err = w.Wait(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, w.Stop())
	require.NoError(t, w.Stop(), "Stop twice is fine")
	_, err = w.Wait(wctx)
	require.ErrorIs(t, err, lattice.ErrWaiterStopped)

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 3
	}, 5*time.Second, 10*time.Millisecond, "malformed events are skipped")
	require.NoError(t, unsubscribe())
	require.NoError(t, unsubscribe())

	// WaitFor sees what is published after it subscribed.
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		w, err := l.ctl.NewWaiter(isStarted("late:0.1"))
		close(ready)
		if err != nil {
			done <- err
			return
		}
		defer w.Stop() //nolint:errcheck
		_, err = w.Wait(wctx)
		done <- err
	}()
	<-ready
	publish(lattice.EventActorStarted, lattice.ActorStartedData{ImageRef: "late:0.1"})
	require.NoError(t, <-done)

	_, err = l.ctl.WaitFor(short, isStarted("never"))
	require.True(t, errors.Is(err, context.DeadlineExceeded))
}
