package keyvalue_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	kv "github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/keyvalue"
)

// linked is a provider with one linked actor, called through Handle.
type linked struct {
	p     *keyvalue.Provider
	actor string
}

func newProvider(t *testing.T) *keyvalue.Provider {
	t.Helper()
	p, err := keyvalue.New(keyvalue.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p
}

func link(actor string, values map[string]string) lattice.LinkDefinition {
	l := lattice.LinkDefinition{
		ActorID: actor, ContractID: kv.ContractID, LinkName: lattice.DefaultLinkName, Values: values,
	}
	l.Normalize()
	return l
}

func newActor(t *testing.T) string {
	return latticetest.Key(t, lattice.PrefixModule).PublicKey()
}

// linkActor links a fresh actor to p with values.
func linkActor(t *testing.T, p *keyvalue.Provider, values map[string]string) linked {
	t.Helper()
	actor := newActor(t)
	require.NoError(t, p.PutLink(context.Background(), link(actor, values)))
	return linked{p: p, actor: actor}
}

// call invokes op with the raw payload msg.
func (l linked) call(op string, msg []byte) ([]byte, error) {
	return l.p.Handle(context.Background(), providers.Invocation{
		Origin:    lattice.Entity{PublicKey: l.actor},
		Operation: op,
		Msg:       msg,
		Link:      link(l.actor, nil),
	})
}

// encode encodes a request: a contract struct with Encode, else a bare scalar or list.
func encode(t *testing.T, arg any) []byte {
	t.Helper()
	if e, ok := arg.(interface{ Encode() ([]byte, error) }); ok {
		b, err := e.Encode()
		require.NoError(t, err)
		return b
	}
	b, err := kv.Marshal(arg)
	require.NoError(t, err)
	return b
}

// step is one call and what it must answer: want is the decoded result (nil: an empty payload,
// as for Set), or err the error it must wrap.
type step struct {
	op   string
	arg  any
	want any
	err  error
}

// check runs one step and compares the decoded answer.
func (l linked) check(t *testing.T, i int, s step) {
	t.Helper()
	out, err := l.call(s.op, encode(t, s.arg))
	if s.err != nil {
		require.ErrorIs(t, err, s.err, "step %d: %s(%v)", i, s.op, s.arg)
		require.ErrorContains(t, err, s.op, "step %d: the error names the operation", i)
		return
	}
	require.NoError(t, err, "step %d: %s(%v)", i, s.op, s.arg)
	switch want := s.want.(type) {
	case nil:
		require.Empty(t, out, "step %d: %s answers an empty payload", i, s.op)
	case kv.GetResponse:
		got, err := kv.DecodeGetResponse(out)
		require.NoError(t, err)
		require.Equal(t, want, got, "step %d: %s(%v)", i, s.op, s.arg)
	case bool:
		var got bool
		require.NoError(t, kv.Unmarshal(out, &got), "step %d", i)
		require.Equal(t, want, got, "step %d: %s(%v)", i, s.op, s.arg)
	case int32:
		var got int32
		require.NoError(t, kv.Unmarshal(out, &got), "step %d", i)
		require.Equal(t, want, got, "step %d: %s(%v)", i, s.op, s.arg)
	case uint32:
		var got uint32
		require.NoError(t, kv.Unmarshal(out, &got), "step %d", i)
		require.Equal(t, want, got, "step %d: %s(%v)", i, s.op, s.arg)
	case []string:
		var got []string
		require.NoError(t, kv.Unmarshal(out, &got), "step %d", i)
		require.NotNil(t, got, "step %d: lists are arrays, never nil", i)
		require.Equal(t, want, got, "step %d: %s(%v)", i, s.op, s.arg)
	default:
		t.Fatalf("step %d: unexpected want type %T", i, want)
	}
}

func get(key string) step { return step{op: kv.OpGet, arg: key} }

func found(key, value string) step {
	return step{op: kv.OpGet, arg: key, want: kv.GetResponse{Value: value, Exists: true}}
}

func missing(key string) step {
	return step{op: kv.OpGet, arg: key, want: kv.GetResponse{}}
}

func set(key, value string) step {
	return step{op: kv.OpSet, arg: kv.SetRequest{Key: key, Value: value}}
}

func incr(key string, by, want int32) step {
	return step{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: key, Value: by}, want: want}
}

func ladd(list, value string, n uint32) step {
	return step{op: kv.OpListAdd, arg: kv.ListAddRequest{ListName: list, Value: value}, want: n}
}

func lrange(list string, start, stop int32, want ...string) step {
	if want == nil {
		want = []string{}
	}
	return step{op: kv.OpListRange, arg: kv.ListRangeRequest{ListName: list, Start: start, Stop: stop}, want: want}
}

func sadd(set, value string, n uint32) step {
	return step{op: kv.OpSetAdd, arg: kv.SetAddRequest{SetName: set, Value: value}, want: n}
}

func strs(s ...string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// cases run against every backend, each on an empty store.
var cases = []struct {
	name  string
	steps []step
}{
	{"get missing", []step{missing("k")}},
	{"set get overwrite", []step{
		set("k", "v"), found("k", "v"),
		set("k", "w"), found("k", "w"),
		set("empty", ""), found("empty", ""),
		set("ünï cödé 🔑", "välue\x00bin"), found("ünï cödé 🔑", "välue\x00bin"),
	}},
	{"del", []step{
		set("k", "v"),
		{op: kv.OpDel, arg: "k", want: true},
		missing("k"),
		{op: kv.OpDel, arg: "k", want: false},
	}},
	{"contains", []step{
		{op: kv.OpContains, arg: "k", want: false},
		set("k", ""),
		{op: kv.OpContains, arg: "k", want: true},
		ladd("l", "a", 1),
		{op: kv.OpContains, arg: "l", want: true},
		sadd("s", "a", 1),
		{op: kv.OpContains, arg: "s", want: true},
	}},
	{"increment", []step{
		incr("n", 5, 5), incr("n", -7, -2), found("n", "-2"),
		incr("n", 0, -2),
		set("m", "41"), incr("m", 1, 42),
		set("big", "2147483646"), incr("big", 1, 2147483647),
		set("small", "-2147483647"), incr("small", -1, -2147483648),
	}},
	{"increment refuses what is not an integer and leaves it", []step{
		set("k", "abc"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: 1}, err: keyvalue.ErrNotInteger},
		found("k", "abc"),
		set("k", "1.5"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: 1}, err: keyvalue.ErrNotInteger},
		set("k", "05"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: 1}, err: keyvalue.ErrNotInteger},
		set("k", " 5"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: 1}, err: keyvalue.ErrNotInteger},
		set("k", ""),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: 1}, err: keyvalue.ErrNotInteger},
		found("k", ""),
	}},
	{"increment refuses a result outside int32 and leaves the value", []step{
		set("k", "2147483647"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: 1}, err: keyvalue.ErrOverflow},
		found("k", "2147483647"),
		set("k", "-2147483648"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: -1}, err: keyvalue.ErrOverflow},
		set("k", "9223372036854775807"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: 1}, err: keyvalue.ErrOverflow},
		found("k", "9223372036854775807"),
		set("k", "10000000000"),
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "k", Value: -1}, err: keyvalue.ErrOverflow},
		found("k", "10000000000"),
	}},
	{"list add range del", []step{
		ladd("l", "a", 1), ladd("l", "b", 2), ladd("l", "c", 3), ladd("l", "a", 4),
		lrange("l", 0, -1, "a", "b", "c", "a"),
		lrange("l", 1, 2, "b", "c"),
		lrange("l", -2, -1, "c", "a"),
		lrange("l", 0, 100, "a", "b", "c", "a"),
		lrange("l", -100, 1, "a", "b"),
		lrange("l", 4, 10),
		lrange("l", 2, 1),
		lrange("l", -1, -2),
		lrange("l", 0, -5),
		lrange("l", -2147483648, 2147483647, "a", "b", "c", "a"),
		{op: kv.OpListDel, arg: kv.ListDelRequest{ListName: "l", Value: "a"}, want: true},
		lrange("l", 0, -1, "b", "c", "a"),
		{op: kv.OpListDel, arg: kv.ListDelRequest{ListName: "l", Value: "zzz"}, want: false},
		{op: kv.OpListDel, arg: kv.ListDelRequest{ListName: "nolist", Value: "a"}, want: false},
		lrange("nolist", 0, -1),
	}},
	{"a list emptied by del is gone", []step{
		ladd("l", "a", 1),
		{op: kv.OpListDel, arg: kv.ListDelRequest{ListName: "l", Value: "a"}, want: true},
		{op: kv.OpContains, arg: "l", want: false},
		ladd("l", "b", 1),
	}},
	{"list clear", []step{
		ladd("l", "a", 1),
		{op: kv.OpListClear, arg: "l", want: true},
		lrange("l", 0, -1),
		{op: kv.OpListClear, arg: "l", want: false},
	}},
	{"set add del query", []step{
		sadd("s", "b", 1), sadd("s", "a", 1), sadd("s", "b", 0), sadd("s", "c", 1),
		{op: kv.OpSetQuery, arg: "s", want: strs("a", "b", "c")},
		{op: kv.OpSetDel, arg: kv.SetDelRequest{SetName: "s", Value: "b"}, want: uint32(1)},
		{op: kv.OpSetDel, arg: kv.SetDelRequest{SetName: "s", Value: "b"}, want: uint32(0)},
		{op: kv.OpSetDel, arg: kv.SetDelRequest{SetName: "none", Value: "b"}, want: uint32(0)},
		{op: kv.OpSetQuery, arg: "s", want: strs("a", "c")},
		{op: kv.OpSetQuery, arg: "none", want: strs()},
	}},
	{"a set emptied by del is gone", []step{
		sadd("s", "a", 1),
		{op: kv.OpSetDel, arg: kv.SetDelRequest{SetName: "s", Value: "a"}, want: uint32(1)},
		{op: kv.OpContains, arg: "s", want: false},
	}},
	{"set union intersection", []step{
		sadd("x", "1", 1), sadd("x", "2", 1), sadd("x", "3", 1),
		sadd("y", "3", 1), sadd("y", "4", 1), sadd("y", "2", 1),
		sadd("z", "3", 1),
		{op: kv.OpSetUnion, arg: strs("x", "y"), want: strs("1", "2", "3", "4")},
		{op: kv.OpSetUnion, arg: strs("y", "none"), want: strs("2", "3", "4")},
		{op: kv.OpSetUnion, arg: strs("x"), want: strs("1", "2", "3")},
		{op: kv.OpSetIntersection, arg: strs("x", "y"), want: strs("2", "3")},
		{op: kv.OpSetIntersection, arg: strs("x", "y", "z"), want: strs("3")},
		{op: kv.OpSetIntersection, arg: strs("x", "none"), want: strs()},
		{op: kv.OpSetUnion, arg: strs(), err: keyvalue.ErrNoSets},
		{op: kv.OpSetIntersection, arg: strs(), err: keyvalue.ErrNoSets},
	}},
	{"set clear", []step{
		sadd("s", "a", 1),
		{op: kv.OpSetClear, arg: "s", want: true},
		{op: kv.OpSetQuery, arg: "s", want: strs()},
		{op: kv.OpSetClear, arg: "s", want: false},
	}},
	{"kinds do not mix", []step{
		set("str", "v"), ladd("list", "a", 1), sadd("set", "a", 1),
		{op: kv.OpGet, arg: "list", err: keyvalue.ErrWrongType},
		{op: kv.OpGet, arg: "set", err: keyvalue.ErrWrongType},
		{op: kv.OpIncrement, arg: kv.IncrementRequest{Key: "list", Value: 1}, err: keyvalue.ErrWrongType},
		{op: kv.OpListAdd, arg: kv.ListAddRequest{ListName: "str", Value: "x"}, err: keyvalue.ErrWrongType},
		{op: kv.OpListRange, arg: kv.ListRangeRequest{ListName: "set", Stop: -1}, err: keyvalue.ErrWrongType},
		{op: kv.OpListDel, arg: kv.ListDelRequest{ListName: "str", Value: "v"}, err: keyvalue.ErrWrongType},
		{op: kv.OpSetAdd, arg: kv.SetAddRequest{SetName: "list", Value: "x"}, err: keyvalue.ErrWrongType},
		{op: kv.OpSetDel, arg: kv.SetDelRequest{SetName: "str", Value: "x"}, err: keyvalue.ErrWrongType},
		{op: kv.OpSetQuery, arg: "list", err: keyvalue.ErrWrongType},
		{op: kv.OpSetUnion, arg: strs("set", "str"), err: keyvalue.ErrWrongType},
		{op: kv.OpSetIntersection, arg: strs("set", "list"), err: keyvalue.ErrWrongType},
		found("str", "v"), lrange("list", 0, -1, "a"),
		// Set replaces whatever the key held; the clear operations delete whatever it holds.
		set("list", "now a string"), found("list", "now a string"),
		{op: kv.OpListClear, arg: "set", want: true},
		{op: kv.OpSetClear, arg: "str", want: true},
	}},
}

// backend is a way to link an actor: in memory, or to a Redis database.
type backend struct {
	name   string
	values func(t *testing.T) map[string]string
	reset  func(t *testing.T)
}

func backends(t *testing.T) []backend {
	r := startRedis(t)
	return []backend{
		{name: "memory", values: func(*testing.T) map[string]string { return nil }, reset: func(*testing.T) {}},
		{name: "redis", values: func(*testing.T) map[string]string { return map[string]string{"URL": r.URL} }, reset: r.flush},
	}
}

func TestOperations(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			p := newProvider(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					b.reset(t)
					l := linkActor(t, p, b.values(t))
					for i, s := range tc.steps {
						l.check(t, i, s)
					}
				})
			}
		})
	}
}

func TestEveryOperationIsServed(t *testing.T) {
	want := []string{
		kv.OpContains, kv.OpDel, kv.OpGet, kv.OpIncrement, kv.OpListAdd, kv.OpListClear, kv.OpListDel,
		kv.OpListRange, kv.OpSet, kv.OpSetAdd, kv.OpSetClear, kv.OpSetDel, kv.OpSetIntersection,
		kv.OpSetQuery, kv.OpSetUnion,
	}
	require.Equal(t, want, keyvalue.Operations())
}

func TestExpiry(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			b.reset(t)
			l := linkActor(t, newProvider(t), b.values(t))
			l.check(t, 0, step{op: kv.OpSet, arg: kv.SetRequest{Key: "short", Value: "v", Expires: 1}})
			l.check(t, 1, step{op: kv.OpSet, arg: kv.SetRequest{Key: "kept", Value: "v", Expires: 1}})
			l.check(t, 2, set("kept", "w")) // a Set without expiry removes the earlier one
			l.check(t, 3, step{op: kv.OpSet, arg: kv.SetRequest{Key: "n", Value: "1", Expires: 1}})
			l.check(t, 4, incr("n", 1, 2)) // Increment keeps the expiry
			l.check(t, 5, found("short", "v"))
			require.Eventually(t, func() bool {
				out, err := l.call(kv.OpGet, encode(t, "short"))
				require.NoError(t, err)
				got, err := kv.DecodeGetResponse(out)
				require.NoError(t, err)
				return !got.Exists
			}, 5*time.Second, 50*time.Millisecond, "a key set to expire in 1s is still there")
			l.check(t, 6, step{op: kv.OpContains, arg: "short", want: false})
			l.check(t, 7, missing("n"))
			l.check(t, 8, found("kept", "w"))
		})
	}
}

func TestMemoryNamespacePerActor(t *testing.T) {
	p := newProvider(t)
	a, b := linkActor(t, p, nil), linkActor(t, p, nil)
	a.check(t, 0, set("counter", "a"))
	b.check(t, 1, missing("counter"))
	b.check(t, 2, incr("counter", 3, 3))
	a.check(t, 3, found("counter", "a"))

	// Deleting and putting the link again keeps the actor's data.
	ctx := context.Background()
	require.NoError(t, p.DeleteLink(ctx, link(a.actor, nil)))
	_, err := a.call(kv.OpGet, encode(t, "counter"))
	require.ErrorIs(t, err, providers.ErrNotLinked)
	require.ErrorContains(t, err, a.actor)
	require.NoError(t, p.PutLink(ctx, link(a.actor, nil)))
	a.check(t, 4, found("counter", "a"))
}

func TestRedisLinks(t *testing.T) {
	r := startRedis(t)
	ctx := context.Background()

	t.Run("actors on one database share its keys", func(t *testing.T) {
		r.flush(t)
		p := newProvider(t)
		a := linkActor(t, p, map[string]string{"URL": r.URL})
		b := linkActor(t, p, map[string]string{"url": r.URL}) // keys are case-insensitive
		a.check(t, 0, set("shared", "x"))
		b.check(t, 1, found("shared", "x"))
		v, err := r.Client.Get(ctx, "shared").Result()
		require.NoError(t, err)
		require.Equal(t, "x", v, "the value is in Redis under the key itself")
	})

	t.Run("one client per link, closed on delete", func(t *testing.T) {
		r.flush(t)
		p := newProvider(t)
		a := linkActor(t, p, map[string]string{"URL": r.URL})
		b := linkActor(t, p, map[string]string{"URL": r.URL})
		a.check(t, 0, set("k", "v"))
		b.check(t, 1, found("k", "v"))
		require.Equal(t, 2, providerClients(t, r))
		require.NoError(t, p.DeleteLink(ctx, link(a.actor, nil)))
		require.Eventually(t, func() bool { return providerClients(t, r) == 1 }, 5*time.Second, 20*time.Millisecond)
		_, err := a.call(kv.OpGet, encode(t, "k"))
		require.ErrorIs(t, err, providers.ErrNotLinked)
		b.check(t, 2, found("k", "v"))
		require.NoError(t, p.Shutdown(ctx))
		require.Eventually(t, func() bool { return providerClients(t, r) == 0 }, 5*time.Second, 20*time.Millisecond)
	})

	t.Run("a link put again replaces its backend", func(t *testing.T) {
		r.flush(t)
		p := newProvider(t)
		a := linkActor(t, p, nil)
		a.check(t, 0, set("where", "memory"))
		require.NoError(t, p.PutLink(ctx, link(a.actor, map[string]string{"URL": r.URL})))
		a.check(t, 1, missing("where"))
		a.check(t, 2, set("where", "redis"))
		require.NoError(t, p.PutLink(ctx, link(a.actor, nil)))
		require.Eventually(t, func() bool { return providerClients(t, r) == 0 }, 5*time.Second, 20*time.Millisecond,
			"the Redis client of the replaced link is closed")
		a.check(t, 3, found("where", "memory"))
	})

	t.Run("a URL that does not parse is refused", func(t *testing.T) {
		p := newProvider(t)
		actor := newActor(t)
		err := p.PutLink(ctx, link(actor, map[string]string{"URL": "http://127.0.0.1:6379"}))
		require.ErrorContains(t, err, actor)
		require.ErrorContains(t, err, "redis URL")
	})

	t.Run("an unreachable server is reported by health and by each call", func(t *testing.T) {
		cfg := keyvalue.DefaultConfig()
		cfg.PingTimeout = 200 * time.Millisecond
		p, err := keyvalue.New(cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Shutdown(ctx) })
		healthy, msg := p.Health(ctx)
		require.True(t, healthy, msg)

		dead := linkActor(t, p, map[string]string{"URL": "redis://:secret@127.0.0.1:" + strconv.Itoa(freePort(t))})
		healthy, msg = p.Health(ctx)
		require.False(t, healthy)
		require.Contains(t, msg, dead.actor)
		require.NotContains(t, msg, "secret", "health messages never show the password")
		_, err = dead.call(kv.OpGet, encode(t, "k"))
		require.ErrorContains(t, err, kv.OpGet)
		require.ErrorContains(t, err, "127.0.0.1")
		require.NotContains(t, err.Error(), "secret")
	})
}

// providerClients counts the provider's connections to r.
func providerClients(t *testing.T, r *redisServer) int {
	t.Helper()
	list, err := r.Client.ClientList(context.Background()).Result()
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name=trellis-keyvalue ") {
			n++
		}
	}
	return n
}

func TestBadInvocations(t *testing.T) {
	p := newProvider(t)
	l := linkActor(t, p, nil)

	t.Run("unknown operation", func(t *testing.T) {
		_, err := l.call("KeyValue.Keys", encode(t, "*"))
		require.ErrorIs(t, err, keyvalue.ErrUnknownOperation)
		require.ErrorContains(t, err, `"KeyValue.Keys"`)
	})
	t.Run("unlinked actor", func(t *testing.T) {
		stranger := linked{p: p, actor: newActor(t)}
		_, err := stranger.call(kv.OpGet, encode(t, "k"))
		require.ErrorIs(t, err, providers.ErrNotLinked)
	})
	for _, op := range keyvalue.Operations() {
		t.Run("malformed "+op, func(t *testing.T) {
			for _, garbage := range [][]byte{nil, {0xc1}, {0xc3}, {0x92, 0x01}, {0x82, 0xa1, 'k'}} {
				_, err := l.call(op, garbage)
				require.ErrorIs(t, err, lattice.ErrMalformedMsgpack, "%s(%x)", op, garbage)
				require.ErrorContains(t, err, op)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	cfg := keyvalue.DefaultConfig()
	require.NoError(t, cfg.Validate())
	cfg.PingTimeout = 0
	_, err := keyvalue.New(cfg)
	require.ErrorContains(t, err, "PingTimeout")
}

func TestShutdownRefusesLinks(t *testing.T) {
	p, err := keyvalue.New(keyvalue.DefaultConfig())
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()))
	err = p.PutLink(context.Background(), link(newActor(t), nil))
	require.ErrorContains(t, err, "shut down")
	require.False(t, errors.Is(err, providers.ErrNotLinked))
}
