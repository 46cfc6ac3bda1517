package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	hostpkg "github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// natsFlags are the NATS connection flags of every command that connects (host, up, ctl, app).
type natsFlags struct {
	url, user, password, token, creds string
	tlsCA, tlsCert, tlsKey            string
	tlsFirst                          bool
	tlsVerify                         bool // trellis up: the embedded server verifies client certificates
	// wasmCloud's host/port and TLS variables, tried in order when --nats-url is not given.
	hostPorts [][2]string
	tlsVars   []string
}

// register adds the flags. credsVars and tlsVars are wasmCloud 0.x's spellings of the creds file
// and of "use TLS" for this command (the host's RPC_*, ctl's CTL_*).
func (f *natsFlags) register(fs *pflag.FlagSet, hostPorts [][2]string, credsVars, tlsVars []string) {
	f.hostPorts, f.tlsVars = hostPorts, tlsVars
	fs.StringVar(&f.url, "nats-url", defaultNATSURL, "NATS server of the lattice: one URL or a comma-separated list (nats://user:pass@h:p accepted; or wasmCloud's *_HOST and *_PORT)")
	withEnv(fs, "nats-url")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (.creds: user JWT and nkey seed)")
	withEnv(fs, "nats-creds", credsVars...)
	f.registerAuth(fs, false)
}

// registerServer adds the flags of `trellis up`, whose embedded server requires what they give
// and whose host and providers connect with them.
func (f *natsFlags) registerServer(fs *pflag.FlagSet) {
	f.registerAuth(fs, true)
	fs.BoolVar(&f.tlsVerify, "nats-tls-verify", false, "require client certificates signed by --nats-tls-ca (the host and its providers present --nats-tls-cert, which must then allow client auth too)")
	withEnv(fs, "nats-tls-verify")
}

func (f *natsFlags) registerAuth(fs *pflag.FlagSet, server bool) {
	ca, cert := "PEM file of the CA certificates that verify the NATS server (a private CA); default the system's",
		"PEM file of the client certificate for a NATS server that verifies clients (with --nats-tls-key)"
	if server {
		ca = "PEM file of the CA that signed --nats-tls-cert (the host and its providers verify the server with it)"
		cert = "PEM file of the embedded NATS server's certificate (with --nats-tls-key): it then serves TLS only"
	}
	fs.StringVar(&f.user, "nats-user", "", "NATS user (with --nats-password)")
	withEnv(fs, "nats-user")
	fs.StringVar(&f.password, "nats-password", "", "NATS password")
	withEnv(fs, "nats-password")
	fs.StringVar(&f.token, "nats-token", "", "NATS authentication token")
	withEnv(fs, "nats-token")
	fs.StringVar(&f.tlsCA, "nats-tls-ca", "", ca)
	withEnv(fs, "nats-tls-ca")
	fs.StringVar(&f.tlsCert, "nats-tls-cert", "", cert)
	withEnv(fs, "nats-tls-cert")
	fs.StringVar(&f.tlsKey, "nats-tls-key", "", "PEM file of the key of --nats-tls-cert")
	withEnv(fs, "nats-tls-key")
	fs.BoolVar(&f.tlsFirst, "nats-tls-first", false, "do the TLS handshake before NATS's INFO (servers with handshake_first)")
	withEnv(fs, "nats-tls-first")
}

// config is the connection the flags describe, checked (lattice.NATSConfig.Validate).
func (f *natsFlags) config(cmd *cobra.Command, name string) (lattice.NATSConfig, error) {
	c := lattice.NATSConfig{
		Servers: lattice.SplitServers(natsURLFromEnv(cmd, f.url, f.hostPorts...)),
		Name:    name, User: f.user, Password: f.password, Token: f.token, CredsFile: f.creds,
		TLSCAFile: f.tlsCA, TLSCertFile: f.tlsCert, TLSKeyFile: f.tlsKey, TLSFirst: f.tlsFirst,
	}
	if _, v, ok := lookupEnv(f.tlsVars...); ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("environment variable %s=%q: want true or false", f.tlsVars[0], v)
		}
		c.TLS = on
	}
	c, err := c.Normalize()
	if err != nil {
		return c, fmt.Errorf("--nats-url: %w", err)
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// connectLattice opens a NATS connection of the lattice for a part of a host command (the
// reconciler, the dashboard), reconnecting for as long as it runs.
func connectLattice(c lattice.NATSConfig, name string) (*nats.Conn, error) {
	c.Name = name
	nc, err := c.Connect(nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return nc, nil
}

// embedded is what `trellis up` asks of its embedded server, and the connection its host and
// providers make to it (the server's client URL is filled in by the host).
func (f *natsFlags) embedded(host string, port int) (*hostpkg.EmbeddedNATS, lattice.NATSConfig) {
	e := &hostpkg.EmbeddedNATS{
		Host: host, Port: port, User: f.user, Password: f.password, Token: f.token,
		TLSCertFile: f.tlsCert, TLSKeyFile: f.tlsKey, TLSFirst: f.tlsFirst,
	}
	c := lattice.NATSConfig{User: f.user, Password: f.password, Token: f.token, TLSCAFile: f.tlsCA, TLSFirst: f.tlsFirst}
	if f.tlsCert != "" {
		c.TLS = true
	}
	if f.tlsVerify {
		e.TLSCAFile = f.tlsCA
		c.TLSCertFile, c.TLSKeyFile = f.tlsCert, f.tlsKey
	}
	return e, c
}
