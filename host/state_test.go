package host_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// Clients may write the lattice bucket directly; these tests write it as an attacker with bucket
// access would, and check that the host's behaviour does not change and that it says so.

// logTo makes a host log its warnings into buf as well as the test log.
func logTo(t *testing.T, buf *latticetest.SyncBuffer) hosttest.Option {
	return func(c *host.Config) {
		c.Logger = zerolog.New(io.MultiWriter(buf, zerolog.NewTestWriter(t))).Level(zerolog.WarnLevel)
	}
}

// bucket is the lattice's KV bucket, opened as a client of the NATS server would.
func bucket(t *testing.T, l *hosttest.Lattice) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(l.NC)
	require.NoError(t, err)
	kv, err := js.KeyValue(context.Background(), lattice.NewSubjects(lattice.DefaultLattice).Bucket())
	require.NoError(t, err)
	return kv
}

func putJSON(t *testing.T, kv jetstream.KeyValue, key string, v any) string {
	t.Helper()
	raw, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		raw = string(b)
	}
	_, err := kv.Put(context.Background(), key, []byte(raw))
	require.NoError(t, err)
	return raw
}

// logLine waits for a JSON log line with that message whose fields contain every want string.
func logLine(t *testing.T, buf *latticetest.SyncBuffer, msg string, want ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(buf.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["message"] != msg {
				continue
			}
			fields := fmt.Sprint(m) // the values unquoted
			all := true
			for _, w := range want {
				all = all && strings.Contains(fields, w)
			}
			if all {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "no %q log line with %q in:\n%s", msg, want, buf.String())
}

// editAlias gives a token a call alias its issuer never signed, keeping the signature.
func editAlias(t *testing.T, token, alias string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(payload, &m))
	m["wascap"].(map[string]any)["call_alias"] = alias
	payload, err = json.Marshal(m)
	require.NoError(t, err)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// TestBucketClaimsCannotHijackACallAlias: the pinger calls "wasmcloud/ponger"; a hijacker actor
// answers the same operation with "HIJACKED". Before claims entries were verified, an unsigned
// CLAIMS_ write giving the hijacker the alias made the pinger answer "ping HIJACKED". Now no
// write of claims the hijacker's issuer did not sign moves the alias, on the host that watched
// the writes nor on one that starts after them, and each is reported by an event and a log line.
func TestBucketClaimsCannotHijackACallAlias(t *testing.T) {
	l := hosttest.New(t)
	var logs latticetest.SyncBuffer
	h := l.StartHost(logTo(t, &logs))
	ponger := latticetest.SignedActor(t, "./actor/examples/ponger", lattice.ActorMetadata{Name: "ponger", CallAlias: "wasmcloud/ponger"}, lattice.SignOptions{})
	pinger := latticetest.SignedActor(t, "./actor/examples/pinger", lattice.ActorMetadata{Name: "pinger", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	hijacker := latticetest.SignedActor(t, "./host/testdata/hijacker", lattice.ActorMetadata{Name: "hijacker"}, lattice.SignOptions{})
	l.StartActor(h, ponger.Path, 1)
	l.StartActor(h, pinger.Path, 1)
	l.StartActor(h, hijacker.Path, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ping := func(pingerID string) string {
		out, err := l.Ctl.Call(ctx, pingerID, "Pinger.Ping", nil)
		require.NoError(t, err)
		return string(out)
	}
	const pong = `{"value":"ping pong"}`
	require.JSONEq(t, pong, ping(pinger.ID))
	hijack, err := l.Ctl.Call(ctx, hijacker.ID, "Ponger.Ping", nil)
	require.NoError(t, err)
	require.Equal(t, "HIJACKED", string(hijack), "the hijacker answers when called by its key")

	kv := bucket(t, l)
	key := lattice.ClaimsKey(hijacker.ID)
	// An alias entry as a client might write it: Trellis takes aliases from claims only.
	putJSON(t, kv, "ALIAS_wasmcloud/ponger", map[string]string{"public_key": hijacker.ID, "call_alias": "wasmcloud/ponger"})

	own := hijacker.Claims.StoreEntry()
	attacks := []struct {
		name   string
		entry  any
		reason string
	}{
		{"wasmCloud 0.x entry without a token", map[string]string{"call_alias": "wasmcloud/ponger", "iss": hijacker.Claims.Issuer,
			"name": "ponger", "caps": "", "rev": "0", "tags": "", "version": "", "sub": hijacker.ID, "contract_id": ""}, `no "jwt" token`},
		{"its own token, with an alias beside it", withValue(own, "call_alias", "wasmcloud/ponger"),
			`field call_alias is "wasmcloud/ponger", but its token says ""`},
		{"the ponger's token under its key", ponger.Claims.StoreEntry(), "its token is for " + ponger.ID},
		{"its own token with the alias edited in", map[string]string{"jwt": editAlias(t, hijacker.Claims.Token, "wasmcloud/ponger")}, "signature"},
		{"not JSON of strings", `{"call_alias": ["wasmcloud/ponger"]}`, "malformed"},
	}
	for _, tt := range attacks {
		t.Run(tt.name, func(t *testing.T) {
			raw := putJSON(t, kv, key, tt.entry)
			ev := l.Events.Wait(t, lattice.EventClaimsRejected, func(d map[string]any) bool {
				r, _ := d["reason"].(string)
				return d["key"] == key && strings.Contains(r, tt.reason)
			})
			require.Equal(t, hijacker.ID, ev["public_key"])
			require.Contains(t, ev["reason"], key, "the reason names the entry: %s", raw)
			logLine(t, &logs, "claims entry ignored", key, tt.reason)
			for range 3 {
				require.JSONEq(t, pong, ping(pinger.ID))
			}
		})
	}

	// get.claims lists what verifies: the hijacker's own claims, as the host stored them at its
	// start, are gone with the overwrite; the ponger keeps its alias.
	claims, err := l.Ctl.GetClaims(ctx)
	require.NoError(t, err)
	for _, c := range claims {
		require.NotEqual(t, hijacker.ID, c["sub"], "an unverified entry is not listed")
		require.NotContains(t, c, lattice.ClaimsTokenField)
		if c["sub"] == ponger.ID {
			require.Equal(t, "wasmcloud/ponger", c["call_alias"])
		}
	}

	// A host that starts now reads the ponger's alias from the bucket (the ponger does not run
	// there) and ignores the hijacker's entry in its replay.
	var logs2 latticetest.SyncBuffer
	h2 := l.StartHost(logTo(t, &logs2))
	pinger2 := latticetest.SignedActor(t, "./actor/examples/pinger", lattice.ActorMetadata{Name: "pinger2", Caps: []string{httpserver.ContractID}}, lattice.SignOptions{})
	l.StartActor(h2, pinger2.Path, 1)
	logLine(t, &logs2, "claims entry ignored", key, "malformed")
	require.JSONEq(t, pong, ping(pinger2.ID))

	// Verified claims still move an alias: the hijacker's issuer signs it the alias.
	signed := latticetest.SignedActor(t, "./host/testdata/hijacker", lattice.ActorMetadata{Name: "claimant", CallAlias: "wasmcloud/claimed"}, lattice.SignOptions{})
	putJSON(t, kv, lattice.ClaimsKey(signed.ID), signed.Claims.StoreEntry())
	relay := relayActor(t)
	l.StartActor(h2, relay.Path, 1)
	l.StartActor(h, signed.Path, 1)
	require.Eventually(t, func() bool {
		out, err := relayCall(l, relay.ID, "", "wasmcloud/claimed", "Ponger.Ping", nil)
		return err == nil && string(out) == "HIJACKED"
	}, 10*time.Second, 20*time.Millisecond, "a signed alias in the bucket resolves on a host the actor does not run on")
}

func withValue(m map[string]string, k, v string) map[string]string {
	m = maps.Clone(m)
	m[k] = v
	return m
}

// TestBucketLinkCannotOverwriteASignedLink: under --link-issuers, a signed link serves the echo
// actor through the httpserver provider. Writes over its key that are not signed by a listed
// issuer (unsigned, signed by a stranger, tampered, garbage, moved to another provider) are
// rejected with an event and a log line naming the key, and the host keeps applying the signed
// link: the port it names keeps serving, the provider never hears of the others, and ctl get
// links shows the signed one. A signed change still applies.
func TestBucketLinkCannotOverwriteASignedLink(t *testing.T) {
	l := hosttest.New(t)
	trusted := latticetest.Key(t, lattice.PrefixAccount)
	stranger := latticetest.Key(t, lattice.PrefixAccount)
	var logs latticetest.SyncBuffer
	h := l.StartHost(logTo(t, &logs), func(c *host.Config) { c.LinkIssuers = []string{trusted.PublicKey()} })
	provider := latticetest.ProviderArchive(t, "./cmd/provider-httpserver", lattice.ProviderMetadata{
		Name: "HTTP Server", CapID: httpserver.ContractID, Vendor: "Trellis"})
	providerID := l.StartProvider(h, provider.Path, "")
	echoID := l.StartActor(h, echoActor(t).Path, 1)

	addr := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	link := func(provider string, port int) lattice.LinkDefinition {
		l := lattice.LinkDefinition{ActorID: echoID, ProviderID: provider, ContractID: httpserver.ContractID,
			Values: map[string]string{"ADDRESS": addr(port)}}
		l.Normalize()
		return l
	}
	signed := func(l lattice.LinkDefinition, by *lattice.KeyPair) lattice.LinkDefinition {
		require.NoError(t, lattice.SignLink(&l, by))
		return l
	}
	const echoBody = `{"body":[],"method":"GET","path":"/","query_string":""}`
	serves := func(port int) bool {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + addr(port) + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == 200 && string(b) == echoBody
	}

	port := latticetest.FreePort(t)
	good := signed(link(providerID, port), trusted)
	l.PutLink(good)
	require.Eventually(t, func() bool { return serves(port) }, 15*time.Second, 10*time.Millisecond, "the signed link serves")

	kv := bucket(t, l)
	other := latticetest.Key(t, lattice.PrefixService).PublicKey()
	var unused []int
	fresh := func() int { p := latticetest.FreePort(t); unused = append(unused, p); return p }
	tampered := signed(link(providerID, port), trusted)
	tampered.Values["ADDRESS"] = addr(fresh())
	attacks := []struct {
		name   string
		value  any
		reason string
	}{
		{"unsigned, another address", link(providerID, fresh()), "link is unsigned"},
		{"signed by a stranger", signed(link(providerID, fresh()), stranger), "not a trusted link issuer"},
		{"the trusted token over other values", tampered, "values changed after signing"},
		{"unsigned, to another provider", link(other, port), "link is unsigned"},
		{"garbage", "{not json", "malformed"},
	}
	for _, tt := range attacks {
		t.Run(tt.name, func(t *testing.T) {
			putJSON(t, kv, good.Key(), tt.value)
			ev := l.Events.Wait(t, lattice.EventLinkdefRejected, func(d map[string]any) bool {
				r, _ := d["reason"].(string)
				return d["id"] == good.ID && strings.Contains(r, tt.reason)
			})
			if tt.reason != "malformed" {
				require.Contains(t, ev["reason"], "the signed link applied before stays in effect")
			}
			logLine(t, &logs, "link rejected", good.Key(), tt.reason)

			require.True(t, serves(port), "the signed link still serves")
			links, err := l.Ctl.GetLinks(context.Background())
			require.NoError(t, err)
			require.Len(t, links, 1)
			require.Equal(t, "signed", links[0].Status)
			require.Equal(t, providerID, links[0].ProviderID)
			require.Equal(t, good.Values, links[0].Values)
		})
	}

	// A signed change applies. Pushes reach the provider in order, so by the time it serves on
	// the new port, the rejected addresses would have been opened had any been pushed.
	moved := signed(link(providerID, latticetest.FreePort(t)), trusted)
	l.PutLink(moved)
	require.Eventually(t, func() bool { return serves(portOf(t, moved)) }, 15*time.Second, 10*time.Millisecond)
	for _, p := range unused {
		require.False(t, serves(p), "a rejected link reached the provider: port %d serves", p)
	}
}

func portOf(t *testing.T, l lattice.LinkDefinition) int {
	t.Helper()
	var p int
	_, err := fmt.Sscanf(l.Values["ADDRESS"][strings.LastIndex(l.Values["ADDRESS"], ":")+1:], "%d", &p)
	require.NoError(t, err)
	return p
}
