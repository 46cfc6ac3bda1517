package reconciler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/reconciler"
)

func TestLinkAccountConfig(t *testing.T) {
	account := latticetest.Key(t, lattice.PrefixAccount)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	other := latticetest.Key(t, lattice.PrefixAccount).PublicKey()
	host := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	for _, tc := range []struct {
		name    string
		account *lattice.KeyPair
		issuers []string
		want    string
	}{
		{"unsigned links, no issuers", nil, nil, ""},
		{"no account, issuers: links are reported, not a config error", nil, []string{other}, ""},
		{"account among the issuers", account, []string{other, account.PublicKey()}, ""},
		{"account, no issuers", account, nil, ""},
		{"account not among the issuers", account, []string{other}, "is not one of the link issuers (" + other + ")"},
		{"a cluster key", cluster, nil, "want an account key (A…)"},
		{"an issuer that is no account key", nil, []string{host}, "reconciler link issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := reconciler.DefaultConfig()
			cfg.HostID = host
			cfg.LinkAccount, cfg.LinkIssuers = tc.account, tc.issuers
			err := cfg.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestSignedLinksUnderLinkIssuers: the host applies only links its issuer signed. A reconciler
// without a link account puts no link and fails the app saying why; one with the trusted account
// signs the link, the app is deployed and serves. An unsigned write over that link leaves the
// host serving, and the reconciler puts the signed link back.
func TestSignedLinksUnderLinkIssuers(t *testing.T) {
	r := newRig(t)
	trusted := latticetest.Key(t, lattice.PrefixAccount)
	issuers := []string{trusted.PublicKey()}
	h := r.l.StartHost(func(c *host.Config) { c.LinkIssuers = issuers })
	unsigned := r.runReconciler(h, func(c *reconciler.Config) { c.LinkIssuers = issuers })
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}}, lattice.SignOptions{})
	prov := httpProvider(t)
	port := latticetest.FreePort(t)
	r.deploy(echoApp("echo", "v1", echo.Path, 1, prov.Path, port))

	st := r.waitState("echo", app.StateFailed, "v1", 60*time.Second)
	require.Contains(t, st.Message, "link echo → httpserver: cannot be put: hosts apply only links signed by one of their link issuers")
	require.Contains(t, st.Message, "--link-account")
	require.Len(t, st.Links, 1)
	require.False(t, st.Links[0].Ready)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	links, err := r.l.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Empty(t, links, "no unsigned link was put")

	unsigned.stopReconciler()
	r.runReconciler(h, func(c *reconciler.Config) { c.LinkIssuers, c.LinkAccount = issuers, trusted })
	r.waitState("echo", app.StateDeployed, "v1", 60*time.Second)
	serves := func() bool {
		code, body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err == nil && code == 200 && body == echoBody
	}
	require.Eventually(t, serves, 20*time.Second, 20*time.Millisecond)
	links, err = r.l.Ctl.GetLinks(ctx)
	require.NoError(t, err)
	require.Len(t, links, 1)
	require.Equal(t, "signed", links[0].Status)
	signed := links[0]
	signed.Status = ""
	require.NoError(t, lattice.VerifyLink(&signed, issuers, time.Now()))

	// An unsigned write over it: the host keeps the signed link, the reconciler puts it back.
	js, err := jetstream.New(r.l.NC)
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx, lattice.NewSubjects(lattice.DefaultLattice).Bucket())
	require.NoError(t, err)
	forged := signed
	forged.JWT = ""
	forged.Values = map[string]string{"address": fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t))}
	_, err = kv.Put(ctx, signed.Key(), mustJSON(t, forged))
	require.NoError(t, err)
	r.l.Events.Wait(t, lattice.EventLinkdefRejected, func(d map[string]any) bool { return d["id"] == signed.ID })
	require.True(t, serves())
	require.Eventually(t, func() bool {
		e, err := kv.Get(ctx, signed.Key())
		if err != nil {
			return false
		}
		var l lattice.LinkDefinition
		return jsonInto(e.Value(), &l) && lattice.VerifyLink(&l, issuers, time.Now()) == nil
	}, 30*time.Second, 50*time.Millisecond, "the reconciler puts the signed link back")
	require.True(t, serves())
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func jsonInto(b []byte, v any) bool { return json.Unmarshal(b, v) == nil }
