package lattice_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func openTestStore(t *testing.T, js jetstream.JetStream, name string) *lattice.Store {
	t.Helper()
	st, err := lattice.OpenStore(context.Background(), js, name, 0)
	require.NoError(t, err)
	return st
}

func testLink(t *testing.T, contract string, values map[string]string) lattice.LinkDefinition {
	t.Helper()
	return lattice.LinkDefinition{
		ActorID:    latticetest.Key(t, lattice.PrefixModule).PublicKey(),
		ProviderID: latticetest.Key(t, lattice.PrefixService).PublicKey(),
		ContractID: contract,
		Values:     values,
	}
}

func TestStoreLinks(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "links")
	require.Equal(t, "LATTICEDATA_links", st.Bucket())

	a := testLink(t, "wasmcloud:httpserver", map[string]string{"ADDRESS": "0.0.0.0:8080"})
	a.JWT = "a.b.c"
	a.Status = "signed"
	b := testLink(t, "wasmcloud:keyvalue", nil)
	b.LinkName = "cache"
	require.NoError(t, st.PutLink(ctx, a))
	require.NoError(t, st.PutLink(ctx, b))

	// The stored JSON has the id and the jwt but never the status.
	a.Normalize()
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)
	entry, err := kv.Get(ctx, a.Key())
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(entry.Value(), &stored))
	require.Equal(t, a.ID, stored["id"])
	require.Equal(t, "a.b.c", stored["jwt"])
	require.NotContains(t, stored, "status")

	got, err := st.Link(ctx, a.ActorID, a.ContractID, "")
	require.NoError(t, err)
	require.Equal(t, a.ID, got.ID)
	require.Equal(t, "default", got.LinkName)
	require.Equal(t, map[string]string{"ADDRESS": "0.0.0.0:8080"}, got.Values)
	require.Empty(t, got.Status)

	links, err := st.Links(ctx)
	require.NoError(t, err)
	require.Len(t, links, 2)
	require.True(t, links[0].ActorID < links[1].ActorID, "links are sorted by actor")
	again, err := st.Links(ctx)
	require.NoError(t, err)
	require.Equal(t, links, again)

	deleted, err := st.DeleteLink(ctx, b.ActorID, b.ContractID, "cache")
	require.NoError(t, err)
	require.Equal(t, b.ProviderID, deleted.ProviderID)
	require.Equal(t, "cache", deleted.LinkName)

	_, err = st.Link(ctx, b.ActorID, b.ContractID, "cache")
	require.ErrorIs(t, err, lattice.ErrLinkNotFound)
	_, err = st.DeleteLink(ctx, b.ActorID, b.ContractID, "cache")
	require.ErrorIs(t, err, lattice.ErrLinkNotFound)
	require.ErrorContains(t, err, b.ActorID)
	require.ErrorContains(t, err, "wasmcloud:keyvalue")
	require.ErrorContains(t, err, "cache")

	links, err = st.Links(ctx)
	require.NoError(t, err)
	require.Len(t, links, 1)
	require.Equal(t, a.ID, links[0].ID)
}

func TestStorePutLinkRefusesInvalid(t *testing.T) {
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "invalid")
	good := testLink(t, "wasmcloud:httpserver", nil)
	for _, tc := range []struct {
		name string
		edit func(*lattice.LinkDefinition)
		want string
	}{
		{"actor not a key", func(l *lattice.LinkDefinition) { l.ActorID = "echo" }, "actor_id"},
		{"actor is a provider key", func(l *lattice.LinkDefinition) { l.ActorID = l.ProviderID }, "actor_id"},
		{"provider missing", func(l *lattice.LinkDefinition) { l.ProviderID = "" }, "provider_id"},
		{"contract missing", func(l *lattice.LinkDefinition) { l.ContractID = " " }, "contract_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := good
			tc.edit(&l)
			err := st.PutLink(context.Background(), l)
			require.ErrorContains(t, err, tc.want)
		})
	}
	links, err := st.Links(context.Background())
	require.NoError(t, err)
	require.Empty(t, links)
}

func TestStoreFindsLinkUnderForeignKey(t *testing.T) {
	// Older clients stored links under LINKDEF_{uuid}.
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "foreign")
	l := testLink(t, "wasmcloud:keyvalue", map[string]string{"URL": "redis://127.0.0.1:6379"})
	raw, err := json.Marshal(l)
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)
	_, err = kv.Put(ctx, "LINKDEF_fb30deff-bbe7-4a28-a525-e53ebd4e8228", raw)
	require.NoError(t, err)

	got, err := st.Link(ctx, l.ActorID, l.ContractID, "default")
	require.NoError(t, err)
	require.Equal(t, "fb30deff-bbe7-4a28-a525-e53ebd4e8228", got.ID)

	deleted, err := st.DeleteLink(ctx, l.ActorID, l.ContractID, "")
	require.NoError(t, err)
	require.Equal(t, l.ProviderID, deleted.ProviderID)
	_, err = kv.Get(ctx, "LINKDEF_fb30deff-bbe7-4a28-a525-e53ebd4e8228")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)
}

func TestStoreClaimsAndRefMaps(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "claims")
	actorClaims := signedActorClaims(t, lattice.ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}})
	actor := actorClaims.Subject
	providerClaims := signedProviderClaims(t, lattice.ProviderMetadata{Name: "HTTP Server", CapID: "wasmcloud:httpserver"})
	provider := providerClaims.Subject

	require.NoError(t, st.PutClaims(ctx, actorClaims.Token))
	require.NoError(t, st.PutClaims(ctx, providerClaims.Token))
	require.ErrorContains(t, st.PutClaims(ctx, ""), "no claims token")
	require.ErrorIs(t, st.PutClaims(ctx, tamper(actorClaims.Token)), lattice.ErrBadSignature)

	claims, err := st.Claims(ctx)
	require.NoError(t, err)
	require.Len(t, claims, 2)
	require.True(t, claims[0]["sub"] < claims[1]["sub"], "claims are sorted by sub")
	for _, c := range claims {
		require.NotContains(t, c, lattice.ClaimsTokenField, "get.claims maps do not carry the token")
		switch c["sub"] {
		case actor:
			require.Equal(t, actorClaims.StringMap(), c)
		case provider:
			require.Equal(t, "wasmcloud:httpserver", c["contract_id"])
		}
	}

	ref := "127.0.0.1:5000/echo:0.1.0"
	require.NoError(t, st.PutRefMap(ctx, lattice.RefMap{OCIURL: ref, PublicKey: actor}))
	require.Error(t, st.PutRefMap(ctx, lattice.RefMap{OCIURL: "", PublicKey: actor}))
	require.Error(t, st.PutRefMap(ctx, lattice.RefMap{OCIURL: ref, PublicKey: "nope"}))
	require.Equal(t, "REFMAP_"+base64.RawURLEncoding.EncodeToString([]byte(ref)), lattice.RefMapKey(ref))
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)
	_, err = kv.Get(ctx, lattice.RefMapKey(ref))
	require.NoError(t, err)
	refs, err := st.RefMaps(ctx)
	require.NoError(t, err)
	require.Equal(t, []lattice.RefMap{{OCIURL: ref, PublicKey: actor}}, refs)
}

func TestStoreReportsMalformedEntries(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "malformed")
	good := testLink(t, "wasmcloud:httpserver", nil)
	require.NoError(t, st.PutLink(ctx, good))
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)
	for key, value := range map[string]string{
		"LINKDEF_garbage":  "{not json",
		"LINKDEF_empty":    "{}",
		"CLAIMS_garbage":   `{"name": 1}`,
		"REFMAP_garbage":   `[]`,
		"SOMETHING_ELSE_1": `whatever`,
	} {
		_, err := kv.Put(ctx, key, []byte(value))
		require.NoError(t, err)
	}

	links, err := st.Links(ctx)
	require.ErrorIs(t, err, lattice.ErrMalformedEntry)
	require.ErrorContains(t, err, "LINKDEF_garbage")
	require.ErrorContains(t, err, "LINKDEF_empty")
	require.Len(t, links, 1, "the good link is still returned")
	claims, err := st.Claims(ctx)
	require.ErrorIs(t, err, lattice.ErrMalformedEntry)
	require.Empty(t, claims)
	_, err = st.RefMaps(ctx)
	require.ErrorIs(t, err, lattice.ErrMalformedEntry)

	// A link whose own key holds garbage can still be deleted by its triple.
	other := testLink(t, "wasmcloud:keyvalue", nil)
	other.Normalize()
	_, err = kv.Put(ctx, other.Key(), []byte("garbage"))
	require.NoError(t, err)
	_, err = st.Link(ctx, other.ActorID, other.ContractID, "")
	require.ErrorIs(t, err, lattice.ErrMalformedEntry)
	_, err = st.DeleteLink(ctx, other.ActorID, other.ContractID, "")
	require.NoError(t, err)
	_, err = kv.Get(ctx, other.Key())
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)
}

func TestOpenStoreBindsExistingBucket(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	_, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LATTICEDATA_existing", History: 5})
	require.NoError(t, err)
	st := openTestStore(t, js, "existing")
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)
	status, err := kv.Status(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 5, status.History(), "an existing bucket keeps its settings")

	fresh := openTestStore(t, js, "fresh")
	kv, err = js.KeyValue(ctx, fresh.Bucket())
	require.NoError(t, err)
	status, err = kv.Status(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, status.History())
	openTestStore(t, js, "fresh") // binding twice is fine

	_, err = lattice.OpenStore(ctx, js, "bad.name", 1)
	require.ErrorContains(t, err, "lattice name")
}

// changeLog records what a Watch delivers.
type changeLog struct {
	mu      sync.Mutex
	changes []lattice.StoreChange
}

func (c *changeLog) add(ch lattice.StoreChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes = append(c.changes, ch)
}

func (c *changeLog) all() []lattice.StoreChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]lattice.StoreChange(nil), c.changes...)
}

// find returns the first change after index from matching, and its index, or -1.
func (c *changeLog) find(from int, match func(lattice.StoreChange) bool) (lattice.StoreChange, int) {
	all := c.all()
	for i := max(from, 0); i < len(all); i++ {
		if match(all[i]) {
			return all[i], i
		}
	}
	return lattice.StoreChange{}, -1
}

func (c *changeLog) index(from int, match func(lattice.StoreChange) bool) int {
	_, i := c.find(from, match)
	return i
}

// watch runs st.Watch until the test ends and returns what it delivers.
func watch(t *testing.T, st *lattice.Store) *changeLog {
	t.Helper()
	log := &changeLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Watch(ctx, log.add) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return 10s after its context ended")
		}
	})
	return log
}

func isOp(op lattice.StoreOp, key string) func(lattice.StoreChange) bool {
	return func(c lattice.StoreChange) bool { return c.Op == op && c.Key == key }
}

func TestStoreWatch(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "watch")
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)

	a := testLink(t, "wasmcloud:httpserver", map[string]string{"PORT": "8080"})
	gone := testLink(t, "wasmcloud:keyvalue", nil)
	require.NoError(t, st.PutLink(ctx, a))
	require.NoError(t, st.PutLink(ctx, gone))
	_, err = st.DeleteLink(ctx, gone.ActorID, gone.ContractID, "")
	require.NoError(t, err)
	echo := signedActorClaims(t, lattice.ActorMetadata{Name: "echo"})
	actor := echo.Subject
	require.NoError(t, st.PutClaims(ctx, echo.Token))
	a.Normalize()
	gone.Normalize()

	log := watch(t, st)

	// Replay: the current values, without the deleted link, then OpSynced.
	synced := func(c lattice.StoreChange) bool { return c.Op == lattice.OpSynced }
	require.Eventually(t, func() bool { return log.index(0, synced) >= 0 }, 10*time.Second, 10*time.Millisecond)
	replay := log.all()
	require.Len(t, replay, 3, "two values then synced: %+v", replay)
	linkPut, i := log.find(0, isOp(lattice.OpPut, a.Key()))
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, lattice.KindLink, linkPut.Kind)
	require.NoError(t, linkPut.DecodeErr)
	require.Equal(t, a.ID, linkPut.Link.ID)
	require.Equal(t, a.ID, linkPut.ID)
	require.Equal(t, "8080", linkPut.Link.Values["PORT"])
	claimsPut, _ := log.find(0, isOp(lattice.OpPut, lattice.ClaimsKey(actor)))
	require.Equal(t, lattice.KindClaims, claimsPut.Kind)
	require.Equal(t, "echo", claimsPut.Claims["name"])
	require.Equal(t, actor, claimsPut.Claims["sub"])
	require.Equal(t, -1, log.index(0, func(c lattice.StoreChange) bool { return c.Key == gone.Key() }))

	// Live changes.
	b := testLink(t, "wasmcloud:messaging", nil)
	require.NoError(t, st.PutLink(ctx, b))
	b.Normalize()
	_, err = st.DeleteLink(ctx, a.ActorID, a.ContractID, "")
	require.NoError(t, err)
	_, err = kv.Put(ctx, "LINKDEF_garbage", []byte("{not json"))
	require.NoError(t, err)
	ref := "127.0.0.1:5000/echo:0.1.0"
	require.NoError(t, st.PutRefMap(ctx, lattice.RefMap{OCIURL: ref, PublicKey: actor}))
	// A purge rolls the key's earlier values up: a put not yet delivered would be skipped.
	require.Eventually(t, func() bool { return log.index(3, isOp(lattice.OpPut, lattice.RefMapKey(ref))) > 0 },
		10*time.Second, 10*time.Millisecond)
	require.NoError(t, kv.Purge(ctx, lattice.RefMapKey(ref)))
	_, err = kv.Put(ctx, "OTHER", []byte("x"))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return log.index(3, isOp(lattice.OpPut, "OTHER")) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the watch goes on after a malformed value")
	live := log.all()[3:]
	require.Len(t, live, 6, "%+v", live)

	require.Equal(t, lattice.OpPut, live[0].Op)
	require.Equal(t, b.ID, live[0].Link.ID)

	require.Equal(t, lattice.OpDelete, live[1].Op)
	require.Equal(t, lattice.KindLink, live[1].Kind)
	require.Equal(t, a.ID, live[1].Link.ID, "a delete knows the key's id")
	require.Empty(t, live[1].Raw)

	require.Equal(t, lattice.OpPut, live[2].Op)
	require.Equal(t, "LINKDEF_garbage", live[2].Key)
	require.ErrorIs(t, live[2].DecodeErr, lattice.ErrMalformedEntry)
	require.Equal(t, "{not json", string(live[2].Raw))

	require.Equal(t, lattice.KindRefMap, live[3].Kind)
	require.Equal(t, &lattice.RefMap{OCIURL: ref, PublicKey: actor}, live[3].RefMap)

	require.Equal(t, lattice.OpDelete, live[4].Op, "a purge is a delete")
	require.Equal(t, ref, live[4].RefMap.OCIURL)

	require.Equal(t, lattice.KindOther, live[5].Kind)
	for i := 1; i < len(live); i++ {
		require.Greater(t, live[i].Revision, live[i-1].Revision)
	}
}

func TestStoreWatchEmptyBucketSyncs(t *testing.T) {
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "empty")
	log := watch(t, st)
	require.Eventually(t, func() bool {
		all := log.all()
		return len(all) == 1 && all[0].Op == lattice.OpSynced
	}, 10*time.Second, 10*time.Millisecond)
}

func TestStoreWatchEndsWhenConnectionCloses(t *testing.T) {
	s := latticetest.RunNATS(t)
	nc := latticetest.Connect(t, s)
	st := openTestStore(t, latticetest.JetStream(t, nc), "closing")
	done := make(chan error, 1)
	go func() { done <- st.Watch(context.Background(), func(lattice.StoreChange) {}) }()
	nc.Close()
	select {
	case err := <-done:
		require.ErrorIs(t, err, nats.ErrConnectionClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after the connection closed")
	}
}

func TestStoreSurvivesNATSRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := latticetest.RunNATSWithDir(t, dir, -1)
	port := latticetest.Port(t, s)
	nc := latticetest.Connect(t, s)
	js := latticetest.JetStream(t, nc)
	st := openTestStore(t, js, "restart")
	before := testLink(t, "wasmcloud:httpserver", nil)
	require.NoError(t, st.PutLink(ctx, before))
	before.Normalize()

	log := watch(t, st)
	require.Eventually(t, func() bool { return log.index(0, isOp(lattice.OpPut, before.Key())) >= 0 }, 10*time.Second, 10*time.Millisecond)

	s.Shutdown()
	s.WaitForShutdown()
	latticetest.RunNATSWithDir(t, dir, port)
	require.Eventually(t, nc.IsConnected, 10*time.Second, 10*time.Millisecond)

	// The link is still there, through the same store and through a fresh one.
	var links []lattice.LinkDefinition
	require.Eventually(t, func() bool {
		var err error
		links, err = st.Links(ctx)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	require.Len(t, links, 1)
	require.Equal(t, before.ID, links[0].ID)
	reopened := openTestStore(t, js, "restart")
	got, err := reopened.Link(ctx, before.ActorID, before.ContractID, "")
	require.NoError(t, err)
	require.Equal(t, before.ProviderID, got.ProviderID)

	// The watch goes on: a change after the restart arrives, once, with no second replay.
	after := testLink(t, "wasmcloud:keyvalue", nil)
	require.NoError(t, st.PutLink(ctx, after))
	after.Normalize()
	require.Eventually(t, func() bool { return log.index(0, isOp(lattice.OpPut, after.Key())) >= 0 }, 15*time.Second, 10*time.Millisecond)
	count := func(match func(lattice.StoreChange) bool) int {
		n := 0
		for _, c := range log.all() {
			if match(c) {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, count(isOp(lattice.OpPut, before.Key())))
	require.Equal(t, 1, count(isOp(lattice.OpPut, after.Key())))
	require.Equal(t, 1, count(func(c lattice.StoreChange) bool { return c.Op == lattice.OpSynced }))
}

func TestStoreWatchFailsWhenBucketIsGone(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "gone")
	require.NoError(t, js.DeleteKeyValue(ctx, st.Bucket()))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := st.Watch(wctx, func(lattice.StoreChange) {})
	require.Error(t, err)
	require.ErrorContains(t, err, st.Bucket())
	require.NoError(t, wctx.Err(), "Watch returned at once rather than retrying")
}

// A link an older client stored under LINKDEF_{uuid} is replaced by a put of the same triple and
// deleted with it: left in the bucket, it would come back at the next restart.
func TestStoreLinkUnderForeignKeyIsReplacedAndDeleted(t *testing.T) {
	ctx := context.Background()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	st := openTestStore(t, js, "foreign-replaced")
	kv, err := js.KeyValue(ctx, st.Bucket())
	require.NoError(t, err)
	l := testLink(t, "wasmcloud:keyvalue", map[string]string{"URL": "redis://old:6379"})
	putForeign := func(key string) {
		raw, err := json.Marshal(l)
		require.NoError(t, err)
		_, err = kv.Put(ctx, key, raw)
		require.NoError(t, err)
	}
	const foreign = "LINKDEF_0b9a8c5e-6a4f-4c36-9d5e-1f0c3a7e2b11"
	putForeign(foreign)

	renewed := l
	renewed.ID = ""
	renewed.Values = map[string]string{"URL": "redis://new:6379"}
	require.NoError(t, st.PutLink(ctx, renewed))
	links, err := st.Links(ctx)
	require.NoError(t, err)
	require.Len(t, links, 1, "one link for the triple")
	require.Equal(t, "redis://new:6379", links[0].Values["URL"])
	_, err = kv.Get(ctx, foreign)
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)

	// An older client writes its copy again after Trellis did: a delete takes both.
	putForeign(foreign)
	_, err = st.DeleteLink(ctx, l.ActorID, l.ContractID, "")
	require.NoError(t, err)
	links, err = st.Links(ctx)
	require.NoError(t, err)
	require.Empty(t, links)
	_, err = st.DeleteLink(ctx, l.ActorID, l.ContractID, "")
	require.ErrorIs(t, err, lattice.ErrLinkNotFound)
}
