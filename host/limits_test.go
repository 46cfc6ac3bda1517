package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// ack sends a raw control request and decodes its ack.
func rawAck(t *testing.T, nc *nats.Conn, subject string, data []byte) lattice.Ack {
	t.Helper()
	m, err := nc.Request(subject, data, 5*time.Second)
	require.NoError(t, err)
	var a lattice.Ack
	require.NoError(t, json.Unmarshal(m.Data, &a), string(m.Data))
	return a
}

// linkPutOfSize is a linkdefs.put request of exactly size bytes (padded in a value).
func linkPutOfSize(t *testing.T, actorID, providerID string, size int) []byte {
	t.Helper()
	l := lattice.LinkDefinition{ActorID: actorID, ProviderID: providerID, ContractID: "wasmcloud:keyvalue", LinkName: "pad", Values: map[string]string{"pad": ""}}
	b, err := json.Marshal(l)
	require.NoError(t, err)
	require.Less(t, len(b), size)
	l.Values["pad"] = strings.Repeat("x", size-len(b))
	b, err = json.Marshal(l)
	require.NoError(t, err)
	require.Len(t, b, size)
	return b
}

func TestControlRequestLimit(t *testing.T) {
	l := hosttest.New(t)
	const limit = 2000
	l.StartHost(func(c *host.Config) { c.MaxControlBytes = limit })
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	subject := lattice.NewSubjects(lattice.DefaultLattice).LinkPut()

	a := rawAck(t, l.NC, subject, linkPutOfSize(t, actor, provider, limit))
	require.True(t, a.Accepted, a.Error)

	a = rawAck(t, l.NC, subject, linkPutOfSize(t, actor, provider, limit+1))
	require.False(t, a.Accepted)
	require.Contains(t, a.Error, fmt.Sprintf("request of %d bytes is over the limit of %d bytes", limit+1, limit))
	require.Contains(t, a.Error, "--max-control-bytes")

	// Still serving: the link that fit is applied and listed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.Eventually(t, func() bool {
		links, err := l.Ctl.GetLinks(ctx)
		require.NoError(t, err)
		return len(links) == 1
	}, 5*time.Second, 5*time.Millisecond)
}

func TestLinkValueAndCountLimits(t *testing.T) {
	l := hosttest.New(t)
	l.StartHost(func(c *host.Config) {
		c.MaxLinkValueBytes = 100
		c.MaxLinkBytes = 150
		c.MaxLinks = 3
	})
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	link := func(name string, values map[string]string) lattice.LinkDefinition {
		return lattice.LinkDefinition{ActorID: actor, ProviderID: provider, ContractID: "wasmcloud:keyvalue", LinkName: name, Values: values}
	}
	put := func(l2 lattice.LinkDefinition) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return l.Ctl.PutLink(ctx, l2)
	}
	kv := func(key string, size int) map[string]string { // key and value of size bytes
		return map[string]string{key: strings.Repeat("v", size-len(key))}
	}

	// Per value: key and value, 100 bytes pass, 101 do not.
	l.PutLink(link("a", kv("url", 100)))
	err := put(link("b", kv("url", 101)))
	require.ErrorContains(t, err, `value "url" of 101 bytes (key and value) is over the limit of 100 bytes per value`)

	// Per link: 150 bytes pass, 151 do not.
	two := kv("one", 75)
	for k, v := range kv("two", 75) {
		two[k] = v
	}
	l.PutLink(link("b", two))
	for k, v := range kv("two", 76) {
		two[k] = v
	}
	err = put(link("c", two))
	require.ErrorContains(t, err, "values of 151 bytes are over the limit of 150 bytes per link")

	// Count: the third link passes, a fourth does not; a link put again is not new.
	l.PutLink(link("c", nil))
	err = put(link("d", nil))
	require.ErrorContains(t, err, "the lattice has 3 links, the most this host puts (--max-links)")
	l.PutLink(link("c", map[string]string{"k": "again"}))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	links, err := l.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Len(t, links, 3)
}

// 10,000 links are more than one NATS message holds: get.links answers in pages, the first a
// wasmCloud 0.x reply, and the ctl client reads them all.
func TestTenThousandLinksThroughGetLinks(t *testing.T) {
	l := hosttest.New(t)
	l.StartHost()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	js, err := jetstream.New(l.NC)
	require.NoError(t, err)
	store, err := lattice.OpenStore(ctx, js, lattice.DefaultLattice, 1)
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx, store.Bucket())
	require.NoError(t, err)
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	const n = 10000
	value := strings.Repeat("v", 100)
	// Written to the bucket as clients may, one entry each (Store.PutLink also looks for older
	// copies of each link, a scan per put).
	for i := range n {
		li := lattice.LinkDefinition{ActorID: actor, ProviderID: provider,
			ContractID: "wasmcloud:keyvalue", LinkName: fmt.Sprintf("link%05d", i), Values: map[string]string{"url": value}}
		li.Normalize()
		raw, err := json.Marshal(li)
		require.NoError(t, err)
		_, err = kv.Put(ctx, li.Key(), raw)
		require.NoError(t, err)
	}

	var links []lattice.LinkDefinition
	require.Eventually(t, func() bool {
		links, err = l.Ctl.GetLinks(ctx)
		require.NoError(t, err)
		return len(links) == n
	}, time.Minute, 50*time.Millisecond, "the host did not list %d links", n)
	// Once more, now that the host has them all (a listing while links arrive may miss some).
	links, err = l.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Len(t, links, n)
	seen := map[string]bool{}
	for _, li := range links {
		require.Equal(t, value, li.Values["url"])
		seen[li.LinkName] = true
	}
	require.Len(t, seen, n, "every link once")

	// What a wasmCloud 0.x client reads: one reply, a {"links": […]} under the max payload, with
	// the extensions it ignores.
	m, err := l.NC.Request(lattice.NewSubjects(lattice.DefaultLattice).GetLinks(), nil, 5*time.Second)
	require.NoError(t, err)
	require.LessOrEqual(t, int64(len(m.Data)), l.NC.MaxPayload())
	var first lattice.LinkList
	require.NoError(t, json.Unmarshal(m.Data, &first))
	require.NotEmpty(t, first.Links)
	require.Less(t, len(first.Links), n)
	require.Equal(t, first.Links[len(first.Links)-1].ID, first.Next)
	require.Equal(t, n, first.Total)
	require.Equal(t, links[:len(first.Links)], first.Links)
}

// An event over NATS's max payload is cut to fit, with a marker, not dropped.
func TestOversizedEventIsCut(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.MaxControlBytes = 1 << 20 })
	// An actor_ref of 600 KB: the command fits, but the actor_start_failed event carries it in
	// the ref and again in the error, over the 1 MiB max payload.
	ref := "./" + strings.Repeat("a", 600_000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, l.Ctl.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: h.ID(), Count: 1}))
	var raw lattice.CloudEvent
	require.Eventually(t, func() bool {
		evs := l.Events.Find(lattice.EventActorStartFailed, nil)
		if len(evs) == 0 {
			return false
		}
		raw = evs[0]
		return true
	}, 15*time.Second, 5*time.Millisecond, "no actor_start_failed event")
	var d lattice.ActorStartFailedData
	require.NoError(t, raw.DecodeData(&d))
	require.Contains(t, d.ActorRef+d.Error, lattice.CutMarker)
	require.True(t, strings.HasPrefix(d.ActorRef, "./aaaa"))
	require.Contains(t, d.Error, "aaaa")
	require.Equal(t, h.ID(), raw.Source)
}

// An invocation one byte over the host's payload limit is refused, inline and chunked, before
// the actor runs (and, chunked, before the payload is read); the limit itself passes.
func TestInvocationPayloadLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
	}{
		{"inline", 1000},
		{"chunked", lattice.MaxInlinePayload + 1000},
	}
	l := hosttest.New(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := l.StartHost(func(c *host.Config) { c.MaxInvocationBytes = tt.limit })
			relay := relayActor(t)
			id := l.StartActor(h, relay.Path, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			msg := bytes.Repeat([]byte{'x'}, int(tt.limit))
			out, err := l.Ctl.Call(ctx, id, "Relay.Echo", msg)
			require.NoError(t, err)
			require.Equal(t, msg, out)
			_, err = l.Ctl.Call(ctx, id, "Relay.Echo", append(msg, 'x'))
			require.ErrorIs(t, err, lattice.ErrInvocation)
			require.ErrorContains(t, err, fmt.Sprintf("payload of %d bytes: payload over the limit of %d bytes (--max-invocation-bytes)", tt.limit+1, tt.limit))
			out, err = l.Ctl.Call(ctx, id, "Relay.Echo", []byte("still here"))
			require.NoError(t, err)
			require.Equal(t, "still here", string(out))
		})
	}
}

// A reply that cannot fit in a NATS message is answered with an error, not left to time out.
func TestOversizedReplyIsAnError(t *testing.T) {
	l := hosttest.New(t)
	h := l.StartHost(func(c *host.Config) { c.Labels = map[string]string{"big": strings.Repeat("b", 1<<20)} })
	a := rawAck(t, l.NC, lattice.NewSubjects(lattice.DefaultLattice).Inventory(h.ID()), nil)
	require.False(t, a.Accepted)
	require.Contains(t, a.Error, "over the NATS server's max payload of 1048576 bytes")
	// The host_started event carried the label, cut.
	d := l.Events.Wait(t, lattice.EventHostStarted, nil)
	labels, _ := d["labels"].(map[string]any)
	require.Contains(t, labels["big"], lattice.CutMarker)
}
