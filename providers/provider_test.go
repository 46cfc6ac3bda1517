package providers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/providertest"
)

const echoContract = "trellis:echo"

// echoProvider is the smallest provider: Echo.Echo returns its msg, Echo.Panic panics,
// Echo.Call calls the actor named by msg; a link with value fail=… fails to apply.
type echoProvider struct {
	mu       sync.Mutex
	host     *providers.Host
	linked   map[string]bool
	shutdown int
	unwell   string
}

func newEcho() *echoProvider { return &echoProvider{linked: map[string]bool{}} }

func (e *echoProvider) Init(_ context.Context, h *providers.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.host = h
	return nil
}

func (e *echoProvider) PutLink(_ context.Context, l lattice.LinkDefinition) error {
	if v, ok := l.Value("FAIL"); ok {
		return errors.New(v)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.linked[l.ActorID] = true
	return nil
}

func (e *echoProvider) DeleteLink(_ context.Context, l lattice.LinkDefinition) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.linked, l.ActorID)
	return nil
}

func (e *echoProvider) Handle(ctx context.Context, inv providers.Invocation) ([]byte, error) {
	switch inv.Operation {
	case "Echo.Echo":
		return inv.Msg, nil
	case "Echo.Link":
		return []byte(inv.Link.Values["greeting"]), nil
	case "Echo.Panic":
		panic("boom")
	}
	return nil, fmt.Errorf("echo: unknown operation %s", inv.Operation)
}

func (e *echoProvider) Health(context.Context) (bool, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.unwell == "", e.unwell
}

func (e *echoProvider) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shutdown++
	return nil
}

func (e *echoProvider) Host() *providers.Host {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.host
}

var (
	_ providers.Provider      = (*echoProvider)(nil)
	_ providers.Initializer   = (*echoProvider)(nil)
	_ providers.HealthChecker = (*echoProvider)(nil)
	_ providers.Shutdowner    = (*echoProvider)(nil)
)

// bareProvider implements only Provider: the SDK supplies health and shutdown.
type bareProvider struct{}

func (bareProvider) PutLink(context.Context, lattice.LinkDefinition) error    { return nil }
func (bareProvider) DeleteLink(context.Context, lattice.LinkDefinition) error { return nil }
func (bareProvider) Handle(_ context.Context, inv providers.Invocation) ([]byte, error) {
	return append([]byte("bare:"), inv.Msg...), nil
}

func TestConformanceEcho(t *testing.T) {
	providertest.Run(t, providertest.Subject{
		New:        func(*testing.T) providers.Provider { return newEcho() },
		Config:     providers.DefaultConfig(echoContract),
		LinkValues: func(*testing.T) map[string]string { return map[string]string{"greeting": "hello"} },
		Probe: func(t *testing.T, env providertest.Env) {
			out, err := env.Call("Echo.Echo", []byte("ping"))
			require.NoError(t, err)
			require.Equal(t, "ping", string(out))
			out, err = env.Call("Echo.Link", nil)
			require.NoError(t, err)
			require.Equal(t, "hello", string(out))
		},
	})
}

func TestConformanceBare(t *testing.T) {
	providertest.Run(t, providertest.Subject{
		New:    func(*testing.T) providers.Provider { return bareProvider{} },
		Config: providers.DefaultConfig(echoContract),
		Probe: func(t *testing.T, env providertest.Env) {
			out, err := env.Call("Any.Thing", []byte("x"))
			require.NoError(t, err)
			require.Equal(t, "bare:x", string(out))
		},
	})
}

// rig runs one provider against an in-process NATS server and plays the host.
type rig struct {
	ns      *server.Server
	nc      *nats.Conn
	subj    lattice.Subjects
	cluster *lattice.KeyPair
	hd      lattice.HostData
	done    chan error
	cancel  context.CancelFunc
}

func newRig(t *testing.T, p providers.Provider, edit func(*lattice.HostData)) *rig {
	t.Helper()
	return newRigWith(t, p, edit, providers.DefaultConfig(echoContract))
}

// newRigWith is newRig with the provider's SDK config.
func newRigWith(t *testing.T, p providers.Provider, edit func(*lattice.HostData), cfg providers.Config) *rig {
	t.Helper()
	ns := latticetest.RunNATS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	r := &rig{ns: ns, nc: latticetest.Connect(t, ns), subj: lattice.NewSubjects("sdk"), cluster: cluster}
	r.hd = lattice.HostData{
		HostID:              latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix:    "sdk",
		LinkName:            lattice.DefaultLinkName,
		LatticeRPCURL:       fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
		InstanceID:          uuid.NewString(),
		ProviderKey:         latticetest.Key(t, lattice.PrefixService).PublicKey(),
		DefaultRPCTimeoutMS: 2000,
		ClusterIssuers:      []string{cluster.PublicKey()},
		InvocationSeed:      seed,
	}
	if edit != nil {
		edit(&r.hd)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	go func() { r.done <- providers.Run(ctx, r.hd, p, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	require.Eventually(t, func() bool {
		_, err := r.nc.Request(r.subj.ProviderHealth(r.hd.ProviderKey, r.hd.LinkName), nil, 200*time.Millisecond)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	return r
}

func (r *rig) link(actor string, values map[string]string) lattice.LinkDefinition {
	return lattice.LinkDefinition{ActorID: actor, ProviderID: r.hd.ProviderKey, LinkName: r.hd.LinkName, ContractID: echoContract, Values: values}
}

func (r *rig) put(t *testing.T, l lattice.LinkDefinition) lattice.Ack {
	t.Helper()
	data, err := lattice.Marshal(l)
	require.NoError(t, err)
	msg, err := r.nc.Request(r.subj.ProviderLinkPut(r.hd.ProviderKey, r.hd.LinkName), data, 5*time.Second)
	require.NoError(t, err)
	var ack lattice.Ack
	require.NoError(t, json.Unmarshal(msg.Data, &ack))
	return ack
}

func (r *rig) invoke(t *testing.T, actor, op string, msg []byte) *lattice.InvocationResponse {
	t.Helper()
	inv, err := lattice.NewInvocation(r.cluster, r.hd.HostID, lattice.Entity{PublicKey: actor},
		lattice.Entity{PublicKey: r.hd.ProviderKey, ContractID: echoContract, LinkName: r.hd.LinkName}, op, msg)
	require.NoError(t, err)
	return r.send(t, inv)
}

func (r *rig) send(t *testing.T, inv *lattice.Invocation) *lattice.InvocationResponse {
	t.Helper()
	data, err := inv.Encode()
	require.NoError(t, err)
	reply, err := r.nc.Request(r.subj.Provider(r.hd.ProviderKey, r.hd.LinkName), data, 5*time.Second)
	require.NoError(t, err)
	resp, err := lattice.DecodeInvocationResponse(reply.Data)
	require.NoError(t, err)
	return resp
}

func TestFailedLinkIsNamedInRefusal(t *testing.T) {
	r := newRig(t, newEcho(), nil)
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	ack := r.put(t, r.link(actor, map[string]string{"fail": "port 1 is taken"}))
	require.False(t, ack.Accepted)
	require.Contains(t, ack.Error, "port 1 is taken")
	resp := r.invoke(t, actor, "Echo.Echo", []byte("x"))
	require.Contains(t, resp.Error, "is not linked to provider")
	require.Contains(t, resp.Error, "its link failed")
	require.Contains(t, resp.Error, "port 1 is taken")

	// A good put replaces the failure.
	ack = r.put(t, r.link(actor, nil))
	require.True(t, ack.Accepted, ack.Error)
	resp = r.invoke(t, actor, "Echo.Echo", []byte("x"))
	require.Empty(t, resp.Error)
	require.Equal(t, "x", string(resp.Msg))
}

func TestLinkChecks(t *testing.T) {
	r := newRig(t, newEcho(), nil)
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	tests := []struct {
		name string
		edit func(*lattice.LinkDefinition)
		want string
	}{
		{"other contract", func(l *lattice.LinkDefinition) { l.ContractID = "wasmcloud:keyvalue" }, `is for contract "wasmcloud:keyvalue"`},
		{"other link name", func(l *lattice.LinkDefinition) { l.LinkName = "blue" }, "another provider"},
		{"actor id not a module key", func(l *lattice.LinkDefinition) { l.ActorID = r.hd.ProviderKey }, "link actor_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := r.link(actor, nil)
			tc.edit(&l)
			ack := r.put(t, l)
			require.False(t, ack.Accepted)
			require.Contains(t, ack.Error, tc.want)
		})
	}
	resp := r.invoke(t, actor, "Echo.Echo", nil)
	require.Contains(t, resp.Error, "is not linked")
}

func TestHandlePanicIsAnError(t *testing.T) {
	r := newRig(t, newEcho(), nil)
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	require.True(t, r.put(t, r.link(actor, nil)).Accepted)
	resp := r.invoke(t, actor, "Echo.Panic", nil)
	require.Contains(t, resp.Error, "Echo.Panic panicked: boom")
	resp = r.invoke(t, actor, "Echo.Echo", []byte("still here"))
	require.Equal(t, "still here", string(resp.Msg))
	require.EqualValues(t, len("still here"), *resp.ContentLength)
}

func TestHealthFromChecker(t *testing.T) {
	e := newEcho()
	r := newRig(t, e, nil)
	e.mu.Lock()
	e.unwell = "database gone"
	e.mu.Unlock()
	msg, err := r.nc.Request(r.subj.ProviderHealth(r.hd.ProviderKey, r.hd.LinkName), nil, 5*time.Second)
	require.NoError(t, err)
	var h lattice.HealthReply
	require.NoError(t, lattice.Unmarshal(msg.Data, &h))
	require.Equal(t, lattice.HealthReply{Healthy: false, Message: "database gone"}, h)
	// The wire form is a msgpack map with the upstream field names.
	var m map[string]any
	require.NoError(t, lattice.Unmarshal(msg.Data, &m))
	require.Equal(t, map[string]any{"healthy": false, "message": "database gone"}, m)
}

func TestShutdownCallsShutdownerOnce(t *testing.T) {
	e := newEcho()
	r := newRig(t, e, nil)
	// An empty payload (old hosts) shuts down too.
	msg, err := r.nc.Request(r.subj.ProviderShutdown(r.hd.ProviderKey, r.hd.LinkName), nil, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, lattice.ShutdownAck, string(msg.Data))
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- nil // for Cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	require.Equal(t, 1, e.shutdown)
}

func TestCallActor(t *testing.T) {
	e := newEcho()
	r := newRig(t, e, func(hd *lattice.HostData) { hd.DefaultRPCTimeoutMS = 300 })
	h := e.Host()
	require.NotNil(t, h, "Init was not called")
	require.Equal(t, r.hd.ProviderKey, h.Data().ProviderKey)
	require.Equal(t, lattice.Entity{PublicKey: r.hd.ProviderKey, ContractID: echoContract, LinkName: "default"}, h.Origin())

	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	var got *lattice.Invocation
	var mu sync.Mutex
	sub, err := r.nc.Subscribe(r.subj.Actor(actor), func(m *nats.Msg) {
		inv, err := lattice.DecodeInvocation(m.Data)
		if err != nil {
			return
		}
		mu.Lock()
		got = inv
		mu.Unlock()
		resp := lattice.InvocationResponse{InvocationID: inv.ID}
		switch string(inv.Msg) {
		case "fail":
			resp.Error = "actor trapped"
		case "silent":
			return
		default:
			if err := inv.Validate([]string{r.cluster.PublicKey()}, time.Now()); err != nil {
				resp.Error = err.Error()
			} else {
				resp.Msg = append([]byte("hi "), inv.Msg...)
			}
		}
		data, _ := resp.Encode()
		_ = m.Respond(data)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, r.nc.Flush())

	ctx := context.Background()
	out, err := h.CallActor(ctx, actor, "Greeter.Greet", []byte("bob"))
	require.NoError(t, err)
	require.Equal(t, "hi bob", string(out))
	mu.Lock()
	require.Equal(t, h.Origin(), got.Origin)
	require.Equal(t, actor, got.Target.PublicKey)
	require.Equal(t, r.hd.HostID, got.HostID)
	mu.Unlock()

	_, err = h.CallActor(ctx, actor, "Greeter.Greet", []byte("fail"))
	require.ErrorIs(t, err, lattice.ErrInvocation)
	require.ErrorContains(t, err, "actor trapped")

	start := time.Now()
	_, err = h.CallActor(ctx, actor, "Greeter.Greet", []byte("silent"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second, "default_rpc_timeout_ms is 300")

	nobody := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	_, err = h.CallActor(ctx, nobody, "Greeter.Greet", nil)
	require.ErrorIs(t, err, providers.ErrActorNotFound)
	require.ErrorContains(t, err, nobody)

	_, err = h.CallActor(ctx, r.hd.ProviderKey, "Greeter.Greet", nil)
	require.ErrorContains(t, err, "actor id")
}

func TestChunkedPayloads(t *testing.T) {
	e := newEcho()
	r := newRig(t, e, nil)
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	require.True(t, r.put(t, r.link(actor, nil)).Accepted)
	big := bytes.Repeat([]byte("0123456789abcdef"), (lattice.MaxInlinePayload/16)+100)

	js, err := jetstream.New(r.nc)
	require.NoError(t, err)
	ctx := context.Background()
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: r.subj.ObjectStore()})
	require.NoError(t, err)

	// Incoming: the msg is in the object store under the invocation id; the reply goes back
	// chunked under id-r.
	inv, err := lattice.NewInvocation(r.cluster, r.hd.HostID, lattice.Entity{PublicKey: actor},
		lattice.Entity{PublicKey: r.hd.ProviderKey, ContractID: echoContract, LinkName: r.hd.LinkName}, "Echo.Echo", big)
	require.NoError(t, err)
	size := uint64(len(big))
	inv.ContentLength = &size
	_, err = obj.PutBytes(ctx, inv.ID, big)
	require.NoError(t, err)
	inv.Msg = []byte{}
	resp := r.send(t, inv)
	require.Empty(t, resp.Error)
	require.Empty(t, resp.Msg)
	require.Equal(t, size, *resp.ContentLength)
	out, err := obj.GetBytes(ctx, inv.ID+"-r")
	require.NoError(t, err)
	require.Equal(t, big, out)
	_, err = obj.GetInfo(ctx, inv.ID)
	require.ErrorIs(t, err, jetstream.ErrObjectNotFound, "the provider deletes the chunk it read")

	// Outgoing: CallActor puts a big msg in the store; the actor answers big too.
	sub, err := r.nc.Subscribe(r.subj.Actor(actor), func(m *nats.Msg) {
		inv, err := lattice.DecodeInvocation(m.Data)
		if err != nil {
			return
		}
		resp := lattice.InvocationResponse{InvocationID: inv.ID}
		in, err := obj.GetBytes(ctx, inv.ID)
		if err != nil || len(inv.Msg) != 0 || inv.ContentLength == nil || *inv.ContentLength != uint64(len(in)) {
			resp.Error = fmt.Sprintf("chunk: %v", err)
		} else {
			reversed := bytes.ToUpper(in)
			_, err = obj.PutBytes(ctx, inv.ID+"-r", reversed)
			n := uint64(len(reversed))
			resp.ContentLength = &n
			if err != nil {
				resp.Error = err.Error()
			}
		}
		data, _ := resp.Encode()
		_ = m.Respond(data)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	out, err = e.Host().CallActor(ctx, actor, "Big.Upper", big)
	require.NoError(t, err)
	require.Equal(t, bytes.ToUpper(big), out)
}

func TestLinksFromHostData(t *testing.T) {
	e := newEcho()
	good := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	bad := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	var r *rig
	r = newRig(t, e, func(hd *lattice.HostData) {
		hd.LinkDefinitions = []lattice.LinkDefinition{
			{ActorID: good, ProviderID: hd.ProviderKey, LinkName: "default", ContractID: echoContract, Values: map[string]string{"greeting": "hey"}},
			{ActorID: bad, ProviderID: hd.ProviderKey, LinkName: "default", ContractID: echoContract, Values: map[string]string{"FAIL": "no way"}},
			{ActorID: bad, ProviderID: latticetest.Key(t, lattice.PrefixService).PublicKey(), ContractID: echoContract},
		}
	})
	links := e.Host().Links()
	require.Len(t, links, 1)
	require.Equal(t, good, links[0].ActorID)
	require.Equal(t, lattice.LinkID(good, echoContract, "default"), links[0].ID)
	l, ok := e.Host().Link(good)
	require.True(t, ok)
	require.Equal(t, "hey", l.Values["greeting"])

	resp := r.invoke(t, good, "Echo.Link", nil)
	require.Empty(t, resp.Error)
	require.Equal(t, "hey", string(resp.Msg))
	resp = r.invoke(t, bad, "Echo.Echo", nil)
	require.Contains(t, resp.Error, "no way")
}

func TestRunRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	err := providers.Run(ctx, lattice.HostData{}, newEcho(), providers.Config{})
	require.ErrorContains(t, err, "empty contract id")
	err = providers.Run(ctx, lattice.HostData{}, newEcho(), providers.DefaultConfig(echoContract))
	require.ErrorContains(t, err, "host data host_id")
	err = providers.Run(ctx, lattice.HostData{}, nil, providers.DefaultConfig(echoContract))
	require.ErrorContains(t, err, "nil Provider")
}

func TestRunUnreachableLattice(t *testing.T) {
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, _ := cluster.Seed()
	hd := lattice.HostData{
		HostID:           latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix: "x",
		LatticeRPCURL:    "127.0.0.1:1",
		ProviderKey:      latticetest.Key(t, lattice.PrefixService).PublicKey(),
		ClusterIssuers:   []string{cluster.PublicKey()},
		InvocationSeed:   seed,
	}
	err := providers.Run(context.Background(), hd, newEcho(), providers.DefaultConfig(echoContract))
	require.ErrorContains(t, err, "connect to nats nats://127.0.0.1:1")
}
