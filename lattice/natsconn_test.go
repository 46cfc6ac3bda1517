package lattice_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

func TestNATSConfigNormalize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   lattice.NATSConfig
		want lattice.NATSConfig
	}{
		{"bare host:port list", lattice.NATSConfig{Servers: []string{"a:4222, nats:4222,"}},
			lattice.NATSConfig{Servers: []string{"nats://a:4222", "nats://nats:4222"}}},
		{"tls scheme for bare when TLS", lattice.NATSConfig{Servers: []string{"a:4222"}, TLS: true},
			lattice.NATSConfig{Servers: []string{"tls://a:4222"}, TLS: true}},
		{"user and password move out of the URL", lattice.NATSConfig{Servers: []string{"nats://u:p%40ss@a:4222", "nats://b:4222"}},
			lattice.NATSConfig{Servers: []string{"nats://a:4222", "nats://b:4222"}, User: "u", Password: "p@ss"}},
		{"token in the URL", lattice.NATSConfig{Servers: []string{"nats://s3cret@a:4222"}},
			lattice.NATSConfig{Servers: []string{"nats://a:4222"}, Token: "s3cret"}},
		{"fields win over the URL", lattice.NATSConfig{Servers: []string{"nats://u:p@a:4222"}, User: "v", Password: "q"},
			lattice.NATSConfig{Servers: []string{"nats://a:4222"}, User: "v", Password: "q"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.Normalize()
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNATSConfigValidate(t *testing.T) {
	tf := latticetest.WriteTLS(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	badCreds := filepath.Join(dir, "bad.creds")
	require.NoError(t, os.WriteFile(badCreds, []byte("nothing here"), 0o600))
	acct, _ := nkeys.CreateAccount()
	acctSeed, _ := acct.Seed()
	srv := []string{"nats://127.0.0.1:4222"}
	for _, tc := range []struct {
		name string
		c    lattice.NATSConfig
		want string
	}{
		{"no server", lattice.NATSConfig{}, "no server URL"},
		{"bad scheme", lattice.NATSConfig{Servers: []string{"http://a:1"}}, `scheme "http"`},
		{"no host", lattice.NATSConfig{Servers: []string{"nats://:4222"}}, "no host"},
		{"bad port", lattice.NATSConfig{Servers: []string{"a:notaport"}}, "notaport"},
		{"two ways", lattice.NATSConfig{Servers: srv, User: "u", Password: "p", Token: "t"}, "more than one way"},
		{"password without user", lattice.NATSConfig{Servers: srv, Password: "p"}, "password without a user"},
		{"jwt without seed", lattice.NATSConfig{Servers: srv, JWT: "a.b.c"}, "JWT without its nkey seed"},
		{"account seed", lattice.NATSConfig{Servers: srv, Seed: string(acctSeed)}, "not a user nkey seed"},
		{"bad seed", lattice.NATSConfig{Servers: srv, Seed: "SUNOPE"}, "user seed"},
		{"missing creds", lattice.NATSConfig{Servers: srv, CredsFile: filepath.Join(dir, "none.creds")}, "creds file"},
		{"creds without jwt", lattice.NATSConfig{Servers: srv, CredsFile: badCreds}, "no user JWT"},
		{"unreadable CA", lattice.NATSConfig{Servers: srv, TLSCAFile: filepath.Join(dir, "none.pem")}, "TLS CA file"},
		{"CA not PEM", lattice.NATSConfig{Servers: srv, TLSCAFile: notPEM}, "not PEM"},
		{"CA PEM not PEM", lattice.NATSConfig{Servers: srv, TLSCAPEM: "nope"}, "TLS CA PEM: not PEM"},
		{"cert without key", lattice.NATSConfig{Servers: srv, TLSCertFile: tf.ClientCert}, "without its key"},
		{"key without cert", lattice.NATSConfig{Servers: srv, TLSKeyFile: tf.ClientKey}, "without its certificate"},
		{"cert and wrong key", lattice.NATSConfig{Servers: srv, TLSCertFile: tf.ClientCert, TLSKeyFile: tf.ServerKey}, "private key does not match"},
		{"file and PEM", lattice.NATSConfig{Servers: srv, TLSCAFile: tf.CA, TLSCAPEM: tf.PEM(t, tf.CA)}, "give one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			require.ErrorContains(t, err, tc.want)
			_, oerr := tc.c.Options()
			require.Error(t, oerr)
		})
	}
	ok := lattice.NATSConfig{Servers: srv, TLSCAFile: tf.CA, TLSCertFile: tf.ClientCert, TLSKeyFile: tf.ClientKey, TLSFirst: true}
	require.NoError(t, ok.Validate())
}

func TestNATSConfigStringRedacts(t *testing.T) {
	u, _ := nkeys.CreateUser()
	seed, _ := u.Seed()
	for _, c := range []lattice.NATSConfig{
		{Servers: []string{"nats://alice:hunter2@a:4222,b:4222"}},
		{Servers: []string{"nats://a:4222"}, User: "alice", Password: "hunter2"},
		{Servers: []string{"nats://hunter2@a:4222"}},
		{Servers: []string{"a:4222"}, Token: "hunter2"},
		{Servers: []string{"a:4222"}, JWT: "eyJhunter2", Seed: string(seed)},
		{Servers: []string{"a:4222"}, Seed: string(seed), TLSKeyPEM: "hunter2", TLSCertPEM: "c"},
	} {
		for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.URL()} {
			require.NotContains(t, s, "hunter2")
			require.NotContains(t, s, string(seed))
		}
	}
	c := lattice.NATSConfig{Servers: []string{"a:4222", "b:4222"}, User: "alice", Password: "x", TLSCAFile: "/ca.pem", TLSFirst: true}
	require.Equal(t, "a:4222,b:4222 (user alice with password [redacted], tls ca /ca.pem, tls first)", c.String())
}

// Each way to authenticate connects to a server that requires it, and is refused without it.
func TestNATSConfigConnects(t *testing.T) {
	tf := latticetest.WriteTLS(t)
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	useed, _ := ukp.Seed()
	for _, tc := range []struct {
		name  string
		edit  func(*server.Options)
		good  func(url string) lattice.NATSConfig
		wrong func(url string) lattice.NATSConfig
	}{
		{"user and password", func(o *server.Options) { o.Username, o.Password = "alice", "right" },
			func(u string) lattice.NATSConfig {
				return lattice.NATSConfig{Servers: []string{strings.Replace(u, "nats://", "nats://alice:right@", 1)}}
			},
			func(u string) lattice.NATSConfig {
				return lattice.NATSConfig{Servers: []string{u}, User: "alice", Password: "wrong"}
			}},
		{"token", func(o *server.Options) { o.Authorization = "tok" },
			func(u string) lattice.NATSConfig { return lattice.NATSConfig{Servers: []string{u}, Token: "tok"} },
			func(u string) lattice.NATSConfig { return lattice.NATSConfig{Servers: []string{u}} }},
		{"nkey seed", func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: upub}} },
			func(u string) lattice.NATSConfig {
				return lattice.NATSConfig{Servers: []string{u}, Seed: string(useed)}
			},
			func(u string) lattice.NATSConfig { return lattice.NATSConfig{Servers: []string{u}} }},
		{"tls private CA with client cert", func(o *server.Options) {
			o.TLSConfig = tf.ServerTLS(t, true)
			o.TLSVerify = true
		},
			func(u string) lattice.NATSConfig {
				return lattice.NATSConfig{Servers: []string{u}, TLSCAFile: tf.CA, TLSCertFile: tf.ClientCert, TLSKeyFile: tf.ClientKey}
			},
			func(u string) lattice.NATSConfig { return lattice.NATSConfig{Servers: []string{u}, TLSCAFile: tf.CA} }},
		{"tls inline PEM, handshake first", func(o *server.Options) {
			o.TLSConfig = tf.ServerTLS(t, false)
			o.TLSHandshakeFirst = true
		},
			func(u string) lattice.NATSConfig {
				return lattice.NATSConfig{Servers: []string{u}, TLSCAPEM: tf.PEM(t, tf.CA), TLSFirst: true}
			},
			func(u string) lattice.NATSConfig { return lattice.NATSConfig{Servers: []string{u}, TLSFirst: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := latticetest.RunNATSWith(t, tc.edit)
			url := fmt.Sprintf("nats://127.0.0.1:%d", latticetest.Port(t, s))
			nc, err := tc.good(url).Connect()
			require.NoError(t, err)
			require.NoError(t, nc.Publish("x", nil))
			require.NoError(t, nc.FlushTimeout(5*time.Second))
			nc.Close()
			// Through Inline (as HostData carries it) too.
			in, err := tc.good(url).Inline()
			require.NoError(t, err)
			require.Empty(t, in.CredsFile+in.TLSCAFile+in.TLSCertFile+in.TLSKeyFile)
			nc, err = in.Connect()
			require.NoError(t, err)
			nc.Close()
			_, err = tc.wrong(url).Connect()
			require.Error(t, err)
		})
	}
}

// A list whose first server is down connects to the next one.
func TestNATSConfigFirstServerDown(t *testing.T) {
	s := latticetest.RunNATS(t)
	down := latticetest.FreePort(t)
	c := lattice.NATSConfig{Servers: []string{fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", down, latticetest.Port(t, s))}}
	nc, err := c.Connect()
	require.NoError(t, err)
	defer nc.Close()
	require.Equal(t, fmt.Sprintf("nats://127.0.0.1:%d", latticetest.Port(t, s)), nc.ConnectedUrl())
}

func TestReadCreds(t *testing.T) {
	u, _ := nkeys.CreateUser()
	seed, _ := u.Seed()
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln"
	creds := fmt.Sprintf("-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n", jwt, seed)
	p := filepath.Join(t.TempDir(), "u.creds")
	require.NoError(t, os.WriteFile(p, []byte(creds), 0o600))
	gotJWT, gotSeed, err := lattice.ReadCreds(p)
	require.NoError(t, err)
	require.Equal(t, jwt, gotJWT)
	require.Equal(t, string(seed), gotSeed)
	in, err := lattice.NATSConfig{Servers: []string{"a:1"}, CredsFile: p}.Inline()
	require.NoError(t, err)
	require.Equal(t, jwt, in.JWT)
	require.Equal(t, string(seed), in.Seed)
	require.Empty(t, in.CredsFile)
}

func TestProviderClusterKey(t *testing.T) {
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, _ := cluster.Seed()
	a, err := lattice.ProviderClusterKey(cluster)
	require.NoError(t, err)
	again, _ := lattice.KeyPairFromSeed(seed)
	b, err := lattice.ProviderClusterKey(again)
	require.NoError(t, err)
	require.Equal(t, a.PublicKey(), b.PublicKey(), "every host with the seed derives the same key")
	require.Equal(t, lattice.PrefixCluster, a.Prefix())
	require.NotEqual(t, cluster.PublicKey(), a.PublicKey())
	other, err := lattice.ProviderClusterKey(latticetest.Key(t, lattice.PrefixCluster))
	require.NoError(t, err)
	require.NotEqual(t, a.PublicKey(), other.PublicKey())
	_, err = lattice.ProviderClusterKey(latticetest.Key(t, lattice.PrefixAccount))
	require.ErrorIs(t, err, lattice.ErrWrongKeyKind)
}

// HostData of a wasmCloud 0.x host (lattice_rpc_url host:port, lattice_rpc_tls, a JWT and seed)
// means what it meant; the Trellis fields carry the rest and survive encoding.
func TestHostDataNATS(t *testing.T) {
	u, _ := nkeys.CreateUser()
	seed, _ := u.Seed()
	old := lattice.HostData{LatticeRPCURL: "nats.example:4222", LatticeRPCTLS: true, LatticeRPCUserJWT: "a.b.c", LatticeRPCUserSeed: string(seed)}
	c := old.NATS()
	require.Equal(t, lattice.NATSConfig{Servers: []string{"nats.example:4222"}, TLS: true, JWT: "a.b.c", Seed: string(seed)}, c)
	n, err := c.Normalize()
	require.NoError(t, err)
	require.Equal(t, []string{"tls://nats.example:4222"}, n.Servers)

	tf := latticetest.WriteTLS(t)
	var hd lattice.HostData
	require.NoError(t, hd.SetNATS(lattice.NATSConfig{Servers: []string{"nats://tok@a:1,b:2"}, TLSCAFile: tf.CA, TLSCertFile: tf.ClientCert, TLSKeyFile: tf.ClientKey, TLSFirst: true}))
	require.Equal(t, "a:1", hd.LatticeRPCURL)
	require.True(t, hd.LatticeRPCTLS)
	got := hd.NATS()
	require.Equal(t, []string{"nats://a:1", "nats://b:2"}, got.Servers)
	require.Equal(t, "tok", got.Token)
	require.Equal(t, tf.PEM(t, tf.CA), got.TLSCAPEM)
	require.Equal(t, tf.PEM(t, tf.ClientKey), got.TLSKeyPEM)
	require.True(t, got.TLSFirst)
	require.NoError(t, got.Validate())
	require.Error(t, hd.SetNATS(lattice.NATSConfig{Servers: []string{"a:1"}, TLSCertFile: tf.ClientCert}), "a cert without its key")
}
