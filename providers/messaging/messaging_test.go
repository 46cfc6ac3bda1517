package messaging_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	msg "github.com/trellis-lattice/trellis/lattice/contracts/messaging"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/messaging"
)

func TestDelivery(t *testing.T) {
	e := start(t, nil)
	a := e.actor(t, nil)
	e.putLink(t, a.id, map[string]string{"SUBSCRIPTION": "orders.*, plain"})

	require.NoError(t, e.nc.PublishMsg(&nats.Msg{Subject: "orders.new", Reply: "answers.here", Data: []byte("o1")}))
	require.Equal(t, msg.SubMessage{Subject: "orders.new", ReplyTo: "answers.here", Body: []byte("o1")}, a.next(t))

	require.NoError(t, e.nc.Publish("unrelated", []byte("no")))
	require.NoError(t, e.nc.Publish("orders.a.b", []byte("no: * is one token")))
	require.NoError(t, e.nc.Publish("plain", nil))
	got := a.next(t)
	require.Equal(t, "plain", got.Subject)
	require.Empty(t, got.ReplyTo)
	require.Empty(t, got.Body)

	// A marker published last arrives after anything that could have been delivered before it.
	require.NoError(t, e.nc.Publish("orders.marker", []byte("m")))
	require.Equal(t, "orders.marker", a.next(t).Subject)
	require.Empty(t, a.drain(), "only subscribed subjects are delivered")
}

func TestQueueGroups(t *testing.T) {
	e := start(t, nil)
	w1, w2, all := e.actor(t, nil), e.actor(t, nil), e.actor(t, nil)
	e.putLink(t, w1.id, map[string]string{"subscription": "jobs|workers"}) // keys are case-insensitive
	e.putLink(t, w2.id, map[string]string{"Subscription": "jobs | workers"})
	e.putLink(t, all.id, map[string]string{"SUBSCRIPTION": "jobs"})

	const n = 40
	for i := range n {
		require.NoError(t, e.nc.Publish("jobs", fmt.Appendf(nil, "%02d", i)))
	}
	var everything []string
	for range n {
		everything = append(everything, string(all.next(t).Body))
	}
	sort.Strings(everything)
	require.Len(t, everything, n, "a plain subscription gets every message")

	var shared []string
	require.Eventually(t, func() bool {
		for _, m := range append(w1.drain(), w2.drain()...) {
			shared = append(shared, string(m.Body))
		}
		return len(shared) >= n
	}, 5*time.Second, 10*time.Millisecond)
	sort.Strings(shared)
	require.Equal(t, everything, shared, "the queue group gets each message once, across its members")
	require.Empty(t, append(w1.drain(), w2.drain()...))
}

func TestActorRepliesThroughPublish(t *testing.T) {
	e := start(t, nil)
	// The actor answers each request by publishing to its reply subject through the provider,
	// as a real actor does with Messaging.Publish.
	actorConn := latticetest.Connect(t, e.ns)
	a := e.actor(t, func(a *fakeActor, m msg.SubMessage) {
		if m.ReplyTo == "" {
			return
		}
		out := msg.PubMessage{Subject: m.ReplyTo, Body: append([]byte("echo: "), m.Body...)}
		data, err := out.Encode()
		if err == nil {
			_, err = e.invoke(actorConn, a.id, msg.OpPublish, data)
		}
		if err != nil {
			t.Errorf("actor reply: %v", err)
		}
	})
	e.putLink(t, a.id, map[string]string{"SUBSCRIPTION": "svc.echo|echoers"})

	reply, err := e.nc.Request("svc.echo", []byte("hi"), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, "echo: hi", string(reply.Data))
	require.Equal(t, "hi", string(a.next(t).Body), "the actor finished handling the message")
}

func TestPublishAndRequest(t *testing.T) {
	e := start(t, nil)
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	e.putLink(t, actor, nil)

	t.Run("publish", func(t *testing.T) {
		sub, err := e.nc.SubscribeSync("news.>")
		require.NoError(t, err)
		defer sub.Unsubscribe() //nolint:errcheck
		require.NoError(t, e.nc.Flush())

		out, err := e.handle(actor, msg.OpPublish, encode(t, msg.PubMessage{Subject: "news.today", ReplyTo: "inbox.1", Body: []byte("b")}))
		require.NoError(t, err)
		require.Empty(t, out)
		m, err := sub.NextMsg(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, "news.today", m.Subject)
		require.Equal(t, "inbox.1", m.Reply)
		require.Equal(t, "b", string(m.Data))

		// The same through the lattice, as a host forwards an actor's call.
		_, err = e.invoke(e.nc, actor, msg.OpPublish, encode(t, msg.PubMessage{Subject: "news.later"}))
		require.NoError(t, err)
		m, err = sub.NextMsg(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, "news.later", m.Subject)
		require.Empty(t, m.Reply)
	})

	t.Run("request", func(t *testing.T) {
		sub, err := e.nc.Subscribe("svc.time", func(m *nats.Msg) { _ = m.Respond([]byte("noon " + string(m.Data))) })
		require.NoError(t, err)
		defer sub.Unsubscribe() //nolint:errcheck
		require.NoError(t, e.nc.Flush())

		for _, timeout := range []uint32{0, 1000} {
			out, err := e.handle(actor, msg.OpRequest, encode(t, msg.RequestMessage{Subject: "svc.time", Body: []byte("?"), TimeoutMs: timeout}))
			require.NoError(t, err)
			reply, err := msg.DecodeReplyMessage(out)
			require.NoError(t, err)
			require.Equal(t, "noon ?", string(reply.Body))
			require.NotEmpty(t, reply.Subject, "the reply's subject is the inbox it came on")
		}
		out, err := e.invoke(e.nc, actor, msg.OpRequest, encode(t, msg.RequestMessage{Subject: "svc.time", Body: []byte("!"), TimeoutMs: 1000}))
		require.NoError(t, err)
		reply, err := msg.DecodeReplyMessage(out)
		require.NoError(t, err)
		require.Equal(t, "noon !", string(reply.Body))
	})

	t.Run("request without responders", func(t *testing.T) {
		_, err := e.handle(actor, msg.OpRequest, encode(t, msg.RequestMessage{Subject: "nobody.home", TimeoutMs: 1000}))
		require.ErrorContains(t, err, "Messaging.Request")
		require.ErrorContains(t, err, `"nobody.home"`)
		require.ErrorIs(t, err, nats.ErrNoResponders)
	})

	t.Run("request timeout", func(t *testing.T) {
		sub, err := e.nc.Subscribe("svc.silent", func(*nats.Msg) {})
		require.NoError(t, err)
		defer sub.Unsubscribe() //nolint:errcheck
		require.NoError(t, e.nc.Flush())
		begin := time.Now()
		_, err = e.handle(actor, msg.OpRequest, encode(t, msg.RequestMessage{Subject: "svc.silent", TimeoutMs: 100}))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "no reply within 100ms")
		require.Less(t, time.Since(begin), 2*time.Second)
	})

	t.Run("bad input", func(t *testing.T) {
		_, err := e.handle(actor, msg.OpPublish, []byte{0xc1})
		require.ErrorIs(t, err, lattice.ErrMalformedMsgpack)
		require.ErrorContains(t, err, msg.OpPublish)
		_, err = e.handle(actor, msg.OpRequest, nil)
		require.ErrorIs(t, err, lattice.ErrMalformedMsgpack)
		require.ErrorContains(t, err, msg.OpRequest)
		_, err = e.handle(actor, msg.OpPublish, encode(t, msg.PubMessage{Subject: "has space"}))
		require.ErrorIs(t, err, nats.ErrBadSubject)
		_, err = e.handle(actor, msg.OpPublish, encode(t, msg.PubMessage{}))
		require.ErrorIs(t, err, nats.ErrBadSubject)
		_, err = e.handle(actor, msg.OpHandleMessage, nil)
		require.ErrorIs(t, err, messaging.ErrUnknownOperation)
		require.ErrorContains(t, err, `"MessageSubscriber.HandleMessage"`)
		_, err = e.handle(latticetest.Key(t, lattice.PrefixModule).PublicKey(), msg.OpPublish, encode(t, msg.PubMessage{Subject: "x"}))
		require.ErrorIs(t, err, providers.ErrNotLinked)
		require.True(t, e.health(t).Healthy, "bad input leaves the provider healthy")
	})
}

func TestDeleteLink(t *testing.T) {
	e := start(t, nil)
	a, other := e.actor(t, nil), e.actor(t, nil)
	e.putLink(t, a.id, map[string]string{"SUBSCRIPTION": "events"})
	e.putLink(t, other.id, map[string]string{"SUBSCRIPTION": "events"})
	require.Len(t, connections(t, e.ns, a.id), 1, "one connection per linked actor")

	e.delLink(t, a.id)
	noConnections(t, e.ns, a.id)
	require.Len(t, connections(t, e.ns, other.id), 1, "other actors keep theirs")

	require.NoError(t, e.nc.Publish("events", []byte("after")))
	require.Equal(t, "after", string(other.next(t).Body))
	require.Empty(t, a.drain(), "an unlinked actor gets no more messages")
	_, err := e.handle(a.id, msg.OpPublish, encode(t, msg.PubMessage{Subject: "x"}))
	require.ErrorIs(t, err, providers.ErrNotLinked)

	// Linking again subscribes again.
	e.putLink(t, a.id, map[string]string{"SUBSCRIPTION": "events"})
	require.NoError(t, e.nc.Publish("events", []byte("again")))
	require.Equal(t, "again", string(a.next(t).Body))
}

func TestLinkPutAgainReplacesConnection(t *testing.T) {
	e := start(t, nil)
	a := e.actor(t, nil)
	e.putLink(t, a.id, map[string]string{"SUBSCRIPTION": "first"})
	e.putLink(t, a.id, map[string]string{"SUBSCRIPTION": "second"})
	require.Eventually(t, func() bool { return len(connections(t, e.ns, a.id)) == 1 }, 5*time.Second, 10*time.Millisecond,
		"the replaced connection is closed")
	require.NoError(t, e.nc.Publish("first", []byte("1")))
	require.NoError(t, e.nc.Publish("second", []byte("2")))
	require.Equal(t, "second", a.next(t).Subject)
	require.Empty(t, a.drain())
}

func TestURI(t *testing.T) {
	e := start(t, nil)
	app := latticetest.RunNATS(t) // the application's own NATS server
	appConn := latticetest.Connect(t, app)
	a := e.actor(t, nil)
	// Upstream's examples give host:port without a scheme.
	e.putLink(t, a.id, map[string]string{"URI": fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, app)), "SUBSCRIPTION": "app.>"})
	require.Len(t, connections(t, app, a.id), 1, "the actor's connection is to its URI")
	noConnections(t, e.ns, a.id)

	require.NoError(t, e.nc.Publish("app.x", []byte("lattice")))
	require.NoError(t, appConn.Publish("app.x", []byte("app")))
	require.Equal(t, "app", string(a.next(t).Body))

	sub, err := appConn.SubscribeSync("out")
	require.NoError(t, err)
	require.NoError(t, appConn.Flush())
	_, err = e.handle(a.id, msg.OpPublish, encode(t, msg.PubMessage{Subject: "out", Body: []byte("o")}))
	require.NoError(t, err)
	m, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, "o", string(m.Data))
	require.Empty(t, a.drain(), "the lattice server's message was not delivered")

	// Health follows the actor's server.
	require.True(t, e.health(t).Healthy)
	app.Shutdown()
	require.Eventually(t, func() bool { return !e.health(t).Healthy }, 10*time.Second, 50*time.Millisecond)
	h := e.health(t)
	require.Contains(t, h.Message, a.id)
	e.delLink(t, a.id)
	require.True(t, e.health(t).Healthy)
}

func TestBadLinks(t *testing.T) {
	e := start(t, nil)
	user := latticetest.Key(t, lattice.PrefixUser)
	userSeed, err := user.Seed()
	require.NoError(t, err)
	account := latticetest.Key(t, lattice.PrefixAccount)
	accountSeed, err := account.Seed()
	require.NoError(t, err)
	tests := []struct {
		name   string
		values map[string]string
		err    string
	}{
		{"bad subscription", map[string]string{"SUBSCRIPTION": "ok, a..b"}, `link value SUBSCRIPTION: subscription 2 "a..b"`},
		{"unreachable URI", map[string]string{"URI": fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))}, "connect to NATS nats://127.0.0.1:"},
		{"password is not shown", map[string]string{"URI": fmt.Sprintf("nats://me:hunter2@127.0.0.1:%d", freePort(t))}, "nats://***@127.0.0.1:"},
		{"jwt without seed", map[string]string{"CLIENT_JWT": "eyJ0eXAiOiJKV1Qi"}, "CLIENT_JWT and CLIENT_SEED go together"},
		{"seed without jwt", map[string]string{"client_seed": userSeed}, "CLIENT_JWT and CLIENT_SEED go together"},
		{"seed of another kind", map[string]string{"CLIENT_JWT": "eyJ0eXAiOiJKV1Qi", "CLIENT_SEED": accountSeed}, "want a user seed"},
		{"seed that is not one", map[string]string{"CLIENT_JWT": "eyJ0eXAiOiJKV1Qi", "CLIENT_SEED": "SUnope"}, "link value CLIENT_SEED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
			ack := e.linkRequest(t, "put", e.link(actor, tc.values))
			require.False(t, ack.Accepted)
			require.Contains(t, ack.Error, actor)
			require.Contains(t, ack.Error, tc.err)
			require.NotContains(t, ack.Error, "hunter2")
			noConnections(t, e.ns, actor)
			_, err := e.invoke(e.nc, actor, msg.OpPublish, encode(t, msg.PubMessage{Subject: "x"}))
			require.ErrorContains(t, err, "not linked")
		})
	}
	require.True(t, e.health(t).Healthy)
}

func TestConfigJSONDefaults(t *testing.T) {
	e := start(t, func(hd *lattice.HostData) {
		hd.ConfigJSON = `{"subscriptions": ["defaults.>|d"]}`
	})
	a, b := e.actor(t, nil), e.actor(t, nil)
	e.putLink(t, a.id, nil)                                       // takes the provider-wide subscriptions
	e.putLink(t, b.id, map[string]string{"SUBSCRIPTION": "mine"}) // its own replace them
	require.NoError(t, e.nc.Publish("defaults.x", []byte("d")))
	require.Equal(t, "defaults.x", a.next(t).Subject)
	require.NoError(t, e.nc.Publish("mine", []byte("m")))
	require.Equal(t, "mine", b.next(t).Subject)
	require.Empty(t, b.drain())
}

func TestMalformedConfigJSONStopsTheProvider(t *testing.T) {
	p, err := messaging.New(messaging.DefaultConfig())
	require.NoError(t, err)
	ns := latticetest.RunNATS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	hd := lattice.HostData{
		HostID:           latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix: "bad",
		LinkName:         lattice.DefaultLinkName,
		LatticeRPCURL:    ns.ClientURL(),
		ProviderKey:      latticetest.Key(t, lattice.PrefixService).PublicKey(),
		ClusterIssuers:   []string{cluster.PublicKey()},
		InvocationSeed:   seed,
		ConfigJSON:       `{"subscriptions": "not a list"}`,
	}
	err = providers.Run(context.Background(), hd, p, providers.DefaultConfig(messaging.ContractID))
	require.ErrorContains(t, err, "messaging config_json")
}

func TestShutdownClosesEverything(t *testing.T) {
	e := start(t, nil)
	a, b := e.actor(t, nil), e.actor(t, nil)
	e.putLink(t, a.id, map[string]string{"SUBSCRIPTION": "s"})
	e.putLink(t, b.id, map[string]string{"SUBSCRIPTION": "s"})
	require.Len(t, connections(t, e.ns, a.id), 1)
	e.stop(t)
	noConnections(t, e.ns, a.id)
	noConnections(t, e.ns, b.id)
	err := e.p.PutLink(context.Background(), e.link(a.id, nil))
	require.ErrorContains(t, err, "shut down")
}

func TestConfig(t *testing.T) {
	require.NoError(t, messaging.DefaultConfig().Validate())
	cfg := messaging.DefaultConfig()
	cfg.MaxConcurrent = 0
	_, err := messaging.New(cfg)
	require.ErrorContains(t, err, "MaxConcurrent")
	cfg = messaging.DefaultConfig()
	cfg.ConnectTimeout = 0
	require.ErrorContains(t, cfg.Validate(), "ConnectTimeout")
}
