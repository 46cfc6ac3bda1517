package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// TestWashFormsRefused checks what the wash forms and flags refuse, on a lattice without hosts:
// each mistake is named before anything is sent.
func TestWashFormsRefused(t *testing.T) {
	useTempKeys(t)
	url := startNATS(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(url, "nats://"))
	require.NoError(t, err)
	hostA := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	hostB := latticetest.Key(t, lattice.PrefixServer).PublicKey()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := latticetest.Key(t, lattice.PrefixService).PublicKey()
	badJSON := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(badJSON, []byte("{not json"), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"host twice", []string{"ctl", "stop", "actor", hostA, actor, "--host-id", hostB},
			[]string{"host " + hostA + " given twice", "--host-id " + hostB}},
		{"stop provider wash form short", []string{"ctl", "stop", "provider", hostA, provider, "wasmcloud:httpserver"},
			[]string{"wash's form (the host first) takes HOST_ID PROVIDER_ID LINK_NAME CONTRACT_ID"}},
		{"stop provider link twice", []string{"ctl", "stop", "provider", hostA, provider, "web", "wasmcloud:httpserver", "-l", "other"},
			[]string{`link name given twice: "web"`}},
		{"scale wash form short", []string{"ctl", "scale", "actor", hostA, "--count", "2"},
			[]string{"wash's form (the host first) takes HOST_ID ACTOR_ID REF"}},
		{"scale bad annotation", []string{"ctl", "scale", "actor", hostA, actor, "ref", "--count", "2", "-a", "nokey"},
			[]string{`annotation "nokey": want KEY=VALUE`}},
		{"update wash form short", []string{"ctl", "update", "actor", hostA, actor},
			[]string{"wash's form (the host first) takes HOST_ID ACTOR_ID NEW_REF"}},
		{"config json text", []string{"ctl", "start", "provider", "wasmcloud+builtin://http-server", "--config-json", "{nope"},
			[]string{"--config-json: neither an existing file nor valid JSON"}},
		{"config json file", []string{"ctl", "start", "provider", "wasmcloud+builtin://http-server", "--config-json", badJSON},
			[]string{"--config-json: file " + badJSON + " is not valid JSON"}},
		{"start provider link twice", []string{"ctl", "start", "provider", "wasmcloud+builtin://http-server", "web", "-l", "other"},
			[]string{`link name given twice: "web" as the second argument and --link-name "other"`}},
		{"server twice", []string{"ctl", "get", "hosts", "--ctl-host", "127.0.0.1", "--nats-url", url},
			[]string{"--nats-url and --ctl-host/--ctl-port name the server twice"}},
		{"bad port", []string{"ctl", "get", "hosts", "-p", "99999"}, []string{`--ctl-port "99999": want a port number`}},
		{"jwt without seed", []string{"ctl", "get", "hosts", "-p", port, "--ctl-jwt", "eyJhbGciOi"},
			[]string{"--ctl-jwt needs its nkey seed"}},
		{"bad seed", []string{"ctl", "get", "hosts", "-p", port, "--ctl-seed", "SUNOPE"}, []string{"nats: user seed"}},
		{"creds file", []string{"ctl", "get", "hosts", "-p", port, "--ctl-credsfile", "/nonexistent/u.creds"},
			[]string{"/nonexistent/u.creds"}},
		// wash's connection flags find the server and the lattice: nobody answers there.
		{"wash flags", []string{"ctl", "get", "hosts", "-r", "127.0.0.1", "-p", port, "--lattice-prefix", "washlattice", "--timeout-ms", "300"},
			[]string{`no host answered ping on lattice "washlattice" at nats://127.0.0.1:` + port}},
		{"top-level get", []string{"get", "hosts", "-r", "127.0.0.1", "-p", port, "-x", "top", "-t", "300"},
			[]string{`no host answered ping on lattice "top" at nats://127.0.0.1:` + port}},
		{"top-level start auction timeout", []string{"start", "actor", "reg.example:5000/echo:0.1.0", "-p", port, "--auction-timeout-ms", "200", "-t", "300"},
			[]string{"no host answered ping"}},
		{"top-level call", []string{"call", actor, "Op", "{}", "-p", port, "--rpc-timeout-ms", "300", "--cluster-seed", clusterSeedOf(t)},
			[]string{"nothing is running to answer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, context.Background(), tc.args...)
			require.Equal(t, 1, code, "stdout: %s", out)
			for _, w := range tc.want {
				require.Contains(t, errOut, w)
			}
		})
	}

	// -h is wash's --host-id on start; help stays --help.
	code, out, errOut := runCLI(t, context.Background(), "ctl", "start", "actor", "--help")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "-h, --host-id")
	// The aliases are unlisted; up, host and the others are what they were.
	code, out, _ = runCLI(t, context.Background(), "--help")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "\n  get ")
	require.Contains(t, out, "\n  up ")
	require.Contains(t, out, "\n  ctx ")
	code, out, _ = runCLI(t, context.Background(), "up", "--help")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "--context")
	require.NotContains(t, out, "--ctl-host")
}

func clusterSeedOf(t *testing.T) string {
	seed, err := latticetest.Key(t, lattice.PrefixCluster).Seed()
	require.NoError(t, err)
	return seed
}

// onLattice makes a host join prefix.
func onLattice(prefix string) hosttest.Option {
	return func(c *host.Config) {
		c.Lattice = prefix
		c.FriendlyName = prefix + "-host"
	}
}

// TestContexts runs two lattices on two servers and reaches each through a context: one made
// with `ctx new`, one a wash context file in wash's own shape and directory.
func TestContexts(t *testing.T) {
	useTempKeys(t)
	ctxDir := os.Getenv("TRELLIS_CONTEXT_DIR")
	washDir := os.Getenv("WASH_CONTEXTS")
	alpha, beta := hosttest.New(t), hosttest.New(t)
	ha := alpha.StartHost(onLattice("alpha"))
	hb := beta.StartHost(onLattice("beta"))
	_, betaPort, err := net.SplitHostPort(strings.TrimPrefix(beta.NS.ClientURL(), "nats://"))
	require.NoError(t, err)

	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, context.Background(), args...)
	}
	hostsOf := func(args ...string) []string {
		t.Helper()
		code, out, errOut := cli(append(args, "-o", "json")...)
		require.Equal(t, 0, code, errOut)
		var got struct {
			Hosts []struct {
				ID string `json:"id"`
			} `json:"hosts"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &got), out)
		var ids []string
		for _, h := range got.Hosts {
			ids = append(ids, h.ID)
		}
		return ids
	}

	code, out, errOut := cli("ctx", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "No contexts in "+ctxDir)

	code, out, errOut = cli("ctx", "new", "alpha", "--nats-url", alpha.NS.ClientURL(), "--lattice", "alpha", "--ctl-timeout", "3000")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Context alpha saved to "+filepath.Join(ctxDir, "alpha.json"))
	st, err := os.Stat(filepath.Join(ctxDir, "alpha.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// Files given relative to the working directory are saved as absolute paths.
	wd, err := os.Getwd()
	require.NoError(t, err)
	tls := latticetest.WriteTLS(t)
	t.Chdir(filepath.Dir(tls.CA))
	code, _, errOut = cli("ctx", "new", "tls", "--nats-url", "tls://127.0.0.1:4222", "--nats-tls-ca", filepath.Base(tls.CA))
	require.Equal(t, 0, code, errOut)
	t.Chdir(wd)
	b, err := os.ReadFile(filepath.Join(ctxDir, "tls.json"))
	require.NoError(t, err)
	require.Contains(t, string(b), `"nats_tls_ca": "`+tls.CA+`"`)
	code, _, errOut = cli("ctx", "del", "tls")
	require.Equal(t, 0, code, errOut)

	// A wash context, as wash 0.x wrote it (WashContext, with its nulls and empty strings).
	require.NoError(t, os.MkdirAll(washDir, 0o700))
	washCtx := `{"name":"beta","cluster_seed":"","ctl_host":"127.0.0.1","ctl_port":` + betaPort + `,"ctl_jwt":"","ctl_seed":"",` +
		`"ctl_credsfile":null,"ctl_timeout":2000,"lattice_prefix":"beta","js_domain":null,"rpc_host":"127.0.0.1",` +
		`"rpc_port":` + betaPort + `,"rpc_jwt":"","rpc_seed":"","rpc_credsfile":null,"rpc_timeout":2000}`
	require.NoError(t, os.WriteFile(filepath.Join(washDir, "beta.json"), []byte(washCtx), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(washDir, "index.json"), []byte(`{"name":"beta"}`), 0o600))

	require.Equal(t, []string{ha.ID()}, hostsOf("ctl", "get", "hosts", "--context", "alpha"))
	require.Equal(t, []string{hb.ID()}, hostsOf("ctl", "get", "hosts", "--context", "beta"))
	require.Equal(t, []string{hb.ID()}, hostsOf("get", "hosts", "--context", filepath.Join(washDir, "beta.json")))

	code, out, errOut = cli("ctx", "list")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `alpha\s+-\s+trellis\s+`+alpha.NS.ClientURL()+`\s+alpha`, out)
	require.Regexp(t, `beta\s+-\s+wash\s+nats://127.0.0.1:`+betaPort+`\s+beta`, out)

	// No default yet: the built-in defaults (nothing listens on them here, or another lattice).
	code, out, errOut = cli("ctx", "default")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "No default context")
	code, _, errOut = cli("ctx", "default", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "context nope: no such context in "+ctxDir)
	code, _, errOut = cli("ctx", "default", "alpha")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, []string{ha.ID()}, hostsOf("ctl", "get", "hosts"))

	// Precedence: flag > environment > context.
	require.Equal(t, []string{hb.ID()}, hostsOf("ctl", "get", "hosts", "--nats-url", beta.NS.ClientURL(), "--lattice", "beta"))
	t.Setenv("TRELLIS_LATTICE", "beta")
	t.Setenv("WASMCLOUD_CTL_PORT", betaPort)
	require.Equal(t, []string{hb.ID()}, hostsOf("ctl", "get", "hosts"))
	require.Equal(t, []string{ha.ID()}, hostsOf("ctl", "get", "hosts", "-p", strings.TrimPrefix(alpha.NS.ClientURL(), "nats://127.0.0.1:"), "-x", "alpha"))
	t.Setenv("TRELLIS_LATTICE", "")
	t.Setenv("WASMCLOUD_CTL_PORT", "")
	t.Setenv("TRELLIS_CONTEXT", "beta")
	require.Equal(t, []string{hb.ID()}, hostsOf("ctl", "get", "hosts"))
	t.Setenv("TRELLIS_CONTEXT", "")

	// Bad contexts are named, and change nothing.
	code, _, errOut = cli("ctx", "new", "alpha", "--nats-url", beta.NS.ClientURL())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "context alpha exists")
	code, _, errOut = cli("ctx", "new", "../up", "--nats-url", beta.NS.ClientURL())
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `context name "../up"`)
	code, _, errOut = cli("ctx", "new", "broken", "--nats-user", "u", "--nats-token", "t")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "context broken: nats: more than one way to authenticate")
	code, _, errOut = cli("ctl", "get", "hosts", "--context", "gamma")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--context gamma: no such context in "+ctxDir+" nor in "+washDir)
	require.NoError(t, os.WriteFile(filepath.Join(washDir, "odd.json"), []byte(`{"ctl_port":"x"}`), 0o600))
	code, _, errOut = cli("ctl", "get", "hosts", "--context", "odd")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "context "+filepath.Join(washDir, "odd.json")+": not a context file")
	require.NoError(t, os.WriteFile(filepath.Join(washDir, "slow.json"), []byte(`{"ctl_timeout":-1}`), 0o600))
	code, _, errOut = cli("ctl", "get", "hosts", "--context", "slow")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not a context file")

	// edit: an editor that breaks the JSON leaves the context as it was.
	before, err := os.ReadFile(filepath.Join(ctxDir, "alpha.json"))
	require.NoError(t, err)
	breaker := writeScript(t, "breaker", `printf '{"nats_url": ' > "$1"`)
	code, _, errOut = cli("ctx", "edit", "alpha", "--editor", breaker)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "context alpha unchanged")
	after, err := os.ReadFile(filepath.Join(ctxDir, "alpha.json"))
	require.NoError(t, err)
	require.Equal(t, before, after)
	code, out, errOut = cli("ctx", "list", "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out, "edit", "the edited copy is not a context")
	// An editor that points alpha at the beta lattice.
	fixer := writeScript(t, "fixer", `printf '{"nats_url": "`+beta.NS.ClientURL()+`", "lattice_prefix": "beta"}' > "$1"`)
	t.Setenv("EDITOR", fixer)
	code, _, errOut = cli("ctx", "edit", "alpha")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, []string{hb.ID()}, hostsOf("ctl", "get", "hosts"))

	// -i asks for each value: the first answers set the server and the lattice.
	root := newRootCmd(&strings.Builder{}, &strings.Builder{})
	root.SetIn(strings.NewReader(alpha.NS.ClientURL() + "\n\n\n\n\n\n\n\n\n\nalpha\n"))
	root.SetArgs([]string{"ctx", "new", "lab", "-i"})
	require.NoError(t, root.ExecuteContext(context.Background()))
	require.Equal(t, []string{ha.ID()}, hostsOf("ctl", "get", "hosts", "--context", "lab"))

	// del of the default: no default any more.
	code, _, errOut = cli("ctx", "del", "alpha")
	require.Equal(t, 0, code, errOut)
	code, out, _ = cli("ctx", "default")
	require.Equal(t, 0, code)
	require.Contains(t, out, "No default context")
	code, _, errOut = cli("ctx", "del", "alpha")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "context alpha: no such context")
}

// writeScript writes an executable shell script (an $EDITOR for tests).
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700))
	return p
}

func TestConfigJSON(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "redis.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"URL": "redis://127.0.0.1:6379"}`), 0o600))
	for _, tc := range []struct{ value, want, err string }{
		{"", "", ""},
		{good, `{"URL": "redis://127.0.0.1:6379"}`, ""},
		{`{"a":1}`, `{"a":1}`, ""},
		{dir, "", "neither an existing file nor valid JSON"}, // a directory is not a file
		{filepath.Join(dir, "missing.json"), "", "neither an existing file nor valid JSON"},
	} {
		got, err := configJSON(tc.value)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.value)
			continue
		}
		require.NoError(t, err, tc.value)
		require.Equal(t, tc.want, got)
	}
}

// FuzzContextFile feeds context files (wash's and Trellis's) to the reader: whatever it accepts
// turns into flag values without panicking, and saves and reads back as the same context.
func FuzzContextFile(f *testing.F) {
	for _, seed := range []string{
		`{"name":"default","cluster_seed":"","ctl_host":"127.0.0.1","ctl_port":4222,"ctl_jwt":"","ctl_seed":"","ctl_credsfile":null,"ctl_timeout":2000,"lattice_prefix":"default","js_domain":null,"rpc_host":"127.0.0.1","rpc_port":4222,"rpc_jwt":"","rpc_seed":"","rpc_credsfile":null,"rpc_timeout":2000}`,
		`{"name":"prod","nats_url":"tls://a:4222,tls://b:4222","ctl_credsfile":"/p.creds","lattice_prefix":"prod","nats_tls_first":true}`,
		`{"ctl_port":70000}`, `{"ctl_port":"x"}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed))
	}
	dir := contextDir{dir: f.TempDir()}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "c.json")
		require.NoError(t, os.WriteFile(p, b, 0o600))
		c, err := readContextFile(p)
		if err != nil {
			return
		}
		_ = c.flagValues()
		c.Name = "fuzz"
		saved, err := dir.save(c)
		require.NoError(t, err)
		back, err := readContextFile(saved)
		require.NoError(t, err)
		require.Equal(t, c, back)
	})
}
