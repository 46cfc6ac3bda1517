package lattice

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// NATSConfig is the one description of a NATS connection that hosts, providers and the CLI use:
// the servers, one way to authenticate, and TLS. Files (creds, CA, cert, key) are read when
// Options is called; the PEM and JWT fields carry the same material inline (as HostData does, so
// a provider needs no file). The zero value connects anonymously to nothing: Servers is required.
type NATSConfig struct {
	// Servers are the URLs to try, in order ("nats://h:p", "tls://h:p", "ws://…" or a bare "h:p").
	// A URL may carry "user:pass@" or "token@"; Normalize moves them into User/Password/Token.
	Servers []string
	// Name is the client name the server shows (monitoring, logs).
	Name string

	// User and Password authenticate with a user name and password.
	User     string
	Password string
	// Token authenticates with a token.
	Token string
	// CredsFile is a .creds file (a user JWT and its nkey seed).
	CredsFile string
	// JWT and Seed are a user JWT and its nkey seed given inline; Seed alone authenticates as an
	// nkey user.
	JWT  string
	Seed string

	// TLS requires TLS even when no URL says "tls://" and no CA or certificate is given (the
	// system roots verify the server).
	TLS bool
	// TLSCAFile / TLSCAPEM are the CA certificates that verify the server (a private CA);
	// without them the system roots do.
	TLSCAFile string
	TLSCAPEM  string
	// TLSCertFile and TLSKeyFile (or TLSCertPEM and TLSKeyPEM) are the client certificate for
	// servers that verify clients; a certificate needs its key.
	TLSCertFile string
	TLSKeyFile  string
	TLSCertPEM  string
	TLSKeyPEM   string
	// TLSFirst makes the TLS handshake happen before the server's INFO (servers configured with
	// handshake_first).
	TLSFirst bool
}

// SplitServers splits a comma-separated list of server URLs, dropping empty items and spaces.
func SplitServers(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Normalize returns c with every server given a scheme ("nats://", or "tls://" when c.TLS) and
// credentials written in URLs moved to User/Password (or Token, for a user without password), so
// the servers can be shown and handed on without secrets. Credentials given in the fields win
// over those in URLs. It fails on a URL that does not parse or has no host.
func (c NATSConfig) Normalize() (NATSConfig, error) {
	var servers []string
	for _, s := range c.Servers {
		for _, one := range SplitServers(s) {
			u, err := parseServer(one, c.TLS)
			if err != nil {
				return c, err
			}
			if u.User != nil {
				name := u.User.Username()
				pass, hasPass := u.User.Password()
				switch {
				case hasPass && c.User == "" && c.Token == "":
					c.User, c.Password = name, pass
				case !hasPass && c.Token == "" && c.User == "":
					c.Token = name
				}
				u.User = nil
			}
			servers = append(servers, u.String())
		}
	}
	c.Servers = servers
	return c, nil
}

// parseServer reads one server URL, adding a scheme to a bare "host:port".
func parseServer(s string, tlsOn bool) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		scheme := "nats://"
		if tlsOn {
			scheme = "tls://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("nats server %q: %w", redactURL(s), err)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return nil, fmt.Errorf("nats server %q: scheme %q, want nats, tls, ws or wss", redactURL(s), u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("nats server %q: no host", redactURL(s))
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return nil, fmt.Errorf("nats server %q: port %q: %w", redactURL(s), p, err)
		}
	}
	return u, nil
}

// Validate names the first thing wrong with c: no server, a malformed URL, two ways to
// authenticate, a password without a user, a JWT without its seed, a certificate without its key
// (or the reverse), or a file or PEM that cannot be read or parsed.
func (c NATSConfig) Validate() error {
	_, err := c.resolve()
	return err
}

// resolved is a NATSConfig with its servers normalized and its files read.
type resolved struct {
	c   NATSConfig
	tls *tls.Config // nil: no TLS settings of our own
}

func (c NATSConfig) resolve() (resolved, error) {
	c, err := c.Normalize()
	if err != nil {
		return resolved{}, err
	}
	if len(c.Servers) == 0 {
		return resolved{}, errors.New("nats: no server URL")
	}
	ways := 0
	for _, set := range []bool{c.User != "", c.Token != "", c.CredsFile != "", c.JWT != "" || c.Seed != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		return resolved{}, errors.New("nats: more than one way to authenticate (user/password, token, creds file, JWT/seed): give one")
	}
	if c.Password != "" && c.User == "" {
		return resolved{}, errors.New("nats: a password without a user")
	}
	if c.JWT != "" && c.Seed == "" {
		return resolved{}, errors.New("nats: a user JWT without its nkey seed")
	}
	if c.Seed != "" {
		kp, err := nkeys.FromSeed([]byte(c.Seed))
		if err != nil {
			return resolved{}, fmt.Errorf("nats: user seed: %w", err)
		}
		if nkeys.Prefix(mustPublic(kp)) != nkeys.PrefixByteUser {
			return resolved{}, errors.New("nats: user seed is not a user nkey seed (SU…)")
		}
	}
	if c.CredsFile != "" {
		if _, _, err := ReadCreds(c.CredsFile); err != nil {
			return resolved{}, err
		}
	}
	if c.TLSCAFile != "" && c.TLSCAPEM != "" {
		return resolved{}, errors.New("nats: a TLS CA file and a TLS CA PEM: give one")
	}
	if (c.TLSCertFile != "" && c.TLSCertPEM != "") || (c.TLSKeyFile != "" && c.TLSKeyPEM != "") {
		return resolved{}, errors.New("nats: a TLS certificate or key given both as a file and as PEM: give one")
	}
	r := resolved{c: c}
	tlsWanted := c.TLS || c.TLSFirst || c.TLSCAFile != "" || c.TLSCAPEM != "" ||
		c.TLSCertFile != "" || c.TLSCertPEM != "" || c.TLSKeyFile != "" || c.TLSKeyPEM != ""
	if !tlsWanted {
		return r, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca, what, err := c.material(c.TLSCAFile, c.TLSCAPEM, "TLS CA"); err != nil {
		return resolved{}, err
	} else if ca != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return resolved{}, fmt.Errorf("nats: TLS CA %s: no PEM certificate in it", what)
		}
		tc.RootCAs = pool
	}
	cert, certWhat, err := c.material(c.TLSCertFile, c.TLSCertPEM, "TLS certificate")
	if err != nil {
		return resolved{}, err
	}
	key, keyWhat, err := c.material(c.TLSKeyFile, c.TLSKeyPEM, "TLS key")
	if err != nil {
		return resolved{}, err
	}
	switch {
	case cert != nil && key == nil:
		return resolved{}, fmt.Errorf("nats: TLS certificate %s without its key", certWhat)
	case key != nil && cert == nil:
		return resolved{}, fmt.Errorf("nats: TLS key %s without its certificate", keyWhat)
	case cert != nil:
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return resolved{}, fmt.Errorf("nats: TLS certificate %s and key %s: %w", certWhat, keyWhat, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	r.tls = tc
	return r, nil
}

// material reads a file or takes inline PEM; what names it for errors (never the content).
func (c NATSConfig) material(file, inline, name string) ([]byte, string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("nats: %s file: %w", name, err)
		}
		if blk, _ := pem.Decode(b); blk == nil {
			return nil, "", fmt.Errorf("nats: %s file %s: not PEM", name, file)
		}
		return b, file, nil
	case inline != "":
		if blk, _ := pem.Decode([]byte(inline)); blk == nil {
			return nil, "", fmt.Errorf("nats: %s PEM: not PEM", name)
		}
		return []byte(inline), "(inline PEM)", nil
	}
	return nil, "", nil
}

func mustPublic(kp nkeys.KeyPair) string {
	pk, _ := kp.PublicKey()
	return pk
}

// ReadCreds reads a .creds file (as `nsc` writes them): the user JWT and its nkey seed.
func ReadCreds(file string) (jwt, seed string, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", fmt.Errorf("nats: creds file: %w", err)
	}
	jwt, err = nkeys.ParseDecoratedJWT(b)
	if err != nil || jwt == "" || strings.Count(jwt, ".") != 2 {
		return "", "", fmt.Errorf("nats: creds file %s: no user JWT in it", file)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", "", fmt.Errorf("nats: creds file %s: no nkey seed in it: %w", file, err)
	}
	s, err := kp.Seed()
	if err != nil {
		return "", "", fmt.Errorf("nats: creds file %s: %w", file, err)
	}
	return jwt, string(s), nil
}

// Options are the nats.go options for c's authentication and TLS (and Name); callers add their
// own reconnect and event handlers. Connect with c.URL() and these.
func (c NATSConfig) Options() ([]nats.Option, error) {
	r, err := c.resolve()
	if err != nil {
		return nil, err
	}
	c = r.c
	var opts []nats.Option
	if c.Name != "" {
		opts = append(opts, nats.Name(c.Name))
	}
	switch {
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	case c.JWT != "":
		opts = append(opts, nats.UserJWTAndSeed(c.JWT, c.Seed))
	case c.Seed != "":
		kp, _ := nkeys.FromSeed([]byte(c.Seed)) // checked by resolve
		opts = append(opts, nats.Nkey(mustPublic(kp), kp.Sign))
	}
	if r.tls != nil {
		opts = append(opts, nats.Secure(r.tls))
	}
	if c.TLSFirst {
		opts = append(opts, nats.TLSHandshakeFirst())
	}
	return opts, nil
}

// URL is the comma-separated server list to give nats.Connect, without credentials.
func (c NATSConfig) URL() string {
	n, err := c.Normalize()
	if err != nil {
		return strings.Join(c.redactedServers(), ",")
	}
	return strings.Join(n.Servers, ",")
}

// Connect connects with c's options followed by extra.
func (c NATSConfig) Connect(extra ...nats.Option) (*nats.Conn, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(c.URL(), append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", c.URL(), err)
	}
	return nc, nil
}

// Inline returns c with its files read into the inline fields (creds into JWT and Seed, the TLS
// files into PEM) and credentials moved out of the URLs, so the whole connection can travel in
// HostData. It fails where Validate would.
func (c NATSConfig) Inline() (NATSConfig, error) {
	r, err := c.resolve()
	if err != nil {
		return c, err
	}
	c = r.c
	if c.CredsFile != "" {
		c.JWT, c.Seed, err = ReadCreds(c.CredsFile)
		if err != nil {
			return c, err
		}
		c.CredsFile = ""
	}
	for _, f := range []struct {
		file   *string
		inline *string
	}{{&c.TLSCAFile, &c.TLSCAPEM}, {&c.TLSCertFile, &c.TLSCertPEM}, {&c.TLSKeyFile, &c.TLSKeyPEM}} {
		if *f.file == "" {
			continue
		}
		b, err := os.ReadFile(*f.file)
		if err != nil {
			return c, fmt.Errorf("nats: %w", err)
		}
		*f.inline, *f.file = string(b), ""
	}
	if r.tls != nil {
		c.TLS = true
	}
	return c, nil
}

// String describes c for logs with every secret redacted: the servers, which way it
// authenticates (the user name is shown, never a password, token, seed or key) and the TLS files.
func (c NATSConfig) String() string {
	var b strings.Builder
	b.WriteString(strings.Join(c.redactedServers(), ","))
	auth := "anonymous"
	switch {
	case c.User != "":
		auth = "user " + c.User + " with password [redacted]"
	case c.Token != "":
		auth = "token [redacted]"
	case c.CredsFile != "":
		auth = "creds file " + c.CredsFile
	case c.JWT != "":
		auth = "user JWT with seed [redacted]"
	case c.Seed != "":
		auth = "nkey seed [redacted]"
	}
	b.WriteString(" (" + auth)
	if c.TLS || c.TLSCAFile != "" || c.TLSCAPEM != "" || c.TLSCertFile != "" || c.TLSCertPEM != "" {
		b.WriteString(", tls")
		if c.TLSCAFile != "" {
			b.WriteString(" ca " + c.TLSCAFile)
		} else if c.TLSCAPEM != "" {
			b.WriteString(" ca (inline)")
		}
		if c.TLSCertFile != "" {
			b.WriteString(" cert " + c.TLSCertFile)
		} else if c.TLSCertPEM != "" {
			b.WriteString(" cert (inline)")
		}
	}
	if c.TLSFirst {
		b.WriteString(", tls first")
	}
	b.WriteString(")")
	return b.String()
}

// GoString keeps %#v from printing secrets.
func (c NATSConfig) GoString() string { return "lattice.NATSConfig{" + c.String() + "}" }

func (c NATSConfig) redactedServers() []string {
	var out []string
	for _, s := range c.Servers {
		for _, one := range SplitServers(s) {
			out = append(out, redactURL(one))
		}
	}
	return out
}

// redactURL hides the user info of a URL ("user:pass@" or "token@").
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "", s
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return s
	}
	if scheme != "" {
		scheme += "://"
	}
	return scheme + "[redacted]@" + rest[at+1:]
}

// NewJetStream is the JetStream context of a lattice on nc: in domain when one is given (a
// lattice whose JetStream runs in another domain, as on a leaf node), else the account's own.
func NewJetStream(nc *nats.Conn, domain string, opts ...jetstream.JetStreamOpt) (jetstream.JetStream, error) {
	if domain != "" {
		return jetstream.NewWithDomain(nc, domain, opts...)
	}
	return jetstream.New(nc, opts...)
}
