package lattice

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// HostData is what a host writes to a provider's stdin at launch: one line of standard base64 of
// this JSON, then a newline (PROTOCOL.md §8).
type HostData struct {
	HostID              string            `json:"host_id"`
	LatticeRPCPrefix    string            `json:"lattice_rpc_prefix"`
	LinkName            string            `json:"link_name"`
	LatticeRPCUserJWT   string            `json:"lattice_rpc_user_jwt"`
	LatticeRPCUserSeed  string            `json:"lattice_rpc_user_seed"`
	LatticeRPCURL       string            `json:"lattice_rpc_url"`
	LatticeRPCTLS       bool              `json:"lattice_rpc_tls"`
	EnvValues           map[string]string `json:"env_values"`
	InstanceID          string            `json:"instance_id"`
	ProviderKey         string            `json:"provider_key"`
	LinkDefinitions     []LinkDefinition  `json:"link_definitions"`
	ConfigJSON          string            `json:"config_json,omitempty"`
	DefaultRPCTimeoutMS uint64            `json:"default_rpc_timeout_ms"`
	ClusterIssuers      []string          `json:"cluster_issuers"`
	InvocationSeed      string            `json:"invocation_seed"`
	JSDomain            string            `json:"js_domain,omitempty"`
	StructuredLogging   bool              `json:"structured_logging"`
	LogLevel            string            `json:"log_level,omitempty"`

	// Trellis extensions (docs/compat.md): the rest of the host's NATS connection, so a provider
	// connects the way its host does. lattice_rpc_url keeps wasmCloud's meaning (the first
	// server's host:port), lattice_rpc_tls says TLS is on, and lattice_rpc_user_jwt /
	// lattice_rpc_user_seed carry creds.
	NATSServers  []string `json:"trellis_nats_servers,omitempty"`  // every server URL, in order
	NATSUser     string   `json:"trellis_nats_user,omitempty"`     // user of user/password auth
	NATSPassword string   `json:"trellis_nats_password,omitempty"` // its password
	NATSToken    string   `json:"trellis_nats_token,omitempty"`    // token auth
	NATSTLSCA    string   `json:"trellis_nats_tls_ca,omitempty"`   // PEM CA certificates
	NATSTLSCert  string   `json:"trellis_nats_tls_cert,omitempty"` // PEM client certificate
	NATSTLSKey   string   `json:"trellis_nats_tls_key,omitempty"`  // PEM client key
	NATSTLSFirst bool     `json:"trellis_nats_tls_first,omitempty"`
}

// SetNATS writes connection c into d: its files are read (Inline), so the provider needs none.
func (d *HostData) SetNATS(c NATSConfig) error {
	c, err := c.Inline()
	if err != nil {
		return fmt.Errorf("host data: %w", err)
	}
	d.NATSServers = c.Servers
	d.LatticeRPCURL = ""
	if u, err := url.Parse(c.Servers[0]); err == nil {
		d.LatticeRPCURL = u.Host
	}
	d.LatticeRPCTLS = c.TLS || strings.HasPrefix(c.Servers[0], "tls://")
	d.NATSUser, d.NATSPassword, d.NATSToken = c.User, c.Password, c.Token
	d.LatticeRPCUserJWT, d.LatticeRPCUserSeed = c.JWT, c.Seed
	d.NATSTLSCA, d.NATSTLSCert, d.NATSTLSKey, d.NATSTLSFirst = c.TLSCAPEM, c.TLSCertPEM, c.TLSKeyPEM, c.TLSFirst
	return nil
}

// NATS is the connection d describes: trellis_nats_servers when set, else lattice_rpc_url (a
// wasmCloud host's "host:port", or a comma-separated list), with TLS when lattice_rpc_tls.
func (d *HostData) NATS() NATSConfig {
	servers := d.NATSServers
	if len(servers) == 0 {
		servers = SplitServers(d.LatticeRPCURL)
	}
	return NATSConfig{
		Servers: servers, User: d.NATSUser, Password: d.NATSPassword, Token: d.NATSToken,
		JWT: d.LatticeRPCUserJWT, Seed: d.LatticeRPCUserSeed, TLS: d.LatticeRPCTLS,
		TLSCAPEM: d.NATSTLSCA, TLSCertPEM: d.NATSTLSCert, TLSKeyPEM: d.NATSTLSKey, TLSFirst: d.NATSTLSFirst,
	}
}

// providerKeyLabel is the HKDF info of the provider cluster key. Changing it changes every
// lattice's provider key: it is part of the protocol (docs/compat.md).
const providerKeyLabel = "trellis provider cluster key v1"

// ProviderClusterKey derives the cluster key that process providers sign invocations with from
// the lattice's cluster key: HKDF-SHA-512 of the cluster seed's raw ed25519 seed with a fixed
// label. Every host sharing the cluster seed derives the same key and trusts it, so a provider
// never receives the cluster seed itself, and a leaked provider key is not the cluster key (it
// cannot be used to derive it). A wasmCloud host on the same lattice must list its public key in
// its cluster issuers.
func ProviderClusterKey(cluster *KeyPair) (*KeyPair, error) {
	if cluster == nil || cluster.prefix != PrefixCluster {
		return nil, fmt.Errorf("provider cluster key: %w: want a cluster key", ErrWrongKeyKind)
	}
	if cluster.priv == nil {
		return nil, fmt.Errorf("provider cluster key: %w", ErrNoPrivateKey)
	}
	raw, err := hkdf.Key(sha512.New, cluster.priv.Seed(), nil, providerKeyLabel, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("provider cluster key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(raw)
	return &KeyPair{prefix: PrefixCluster, pub: priv.Public().(ed25519.PublicKey), priv: priv}, nil
}

// Encode renders the stdin line: base64 of the JSON, then "\n".
func (d *HostData) Encode() ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode host data: %w", err)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw))+1)
	base64.StdEncoding.Encode(out, raw)
	out[len(out)-1] = '\n'
	return out, nil
}

// DecodeHostData parses the stdin line (base64 of JSON; plain JSON is accepted too) and checks
// the fields a provider cannot do without.
func DecodeHostData(line []byte) (*HostData, error) {
	s := strings.TrimSpace(string(line))
	if s == "" {
		return nil, errors.New("host data: empty: a provider expects one line of base64 JSON on stdin")
	}
	raw := []byte(s)
	if !strings.HasPrefix(s, "{") {
		var err error
		raw, err = base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("host data: not base64: %w", err)
		}
	}
	var d HostData
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("host data: malformed JSON: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate names the first missing or malformed field.
func (d *HostData) Validate() error {
	if err := CheckPublicKey(PrefixServer, d.HostID); err != nil {
		return fmt.Errorf("host data host_id: %w", err)
	}
	if err := CheckPublicKey(PrefixService, d.ProviderKey); err != nil {
		return fmt.Errorf("host data provider_key: %w", err)
	}
	if d.LatticeRPCPrefix == "" {
		return errors.New("host data lattice_rpc_prefix: empty")
	}
	if d.LatticeRPCURL == "" && len(d.NATSServers) == 0 {
		return errors.New("host data lattice_rpc_url: empty")
	}
	if err := d.NATS().Validate(); err != nil {
		return fmt.Errorf("host data lattice connection: %w", err)
	}
	if d.InvocationSeed == "" {
		return errors.New("host data invocation_seed: empty: the provider cannot sign invocations")
	}
	if kp, err := KeyPairFromSeed(d.InvocationSeed); err != nil {
		return fmt.Errorf("host data invocation_seed: %w", err)
	} else if kp.Prefix() != PrefixCluster {
		return fmt.Errorf("host data invocation_seed: a %s seed, want a cluster seed (SC…)", kp.Prefix())
	}
	if len(d.ClusterIssuers) == 0 {
		return errors.New("host data cluster_issuers: empty: the provider would trust no invocation")
	}
	if d.LinkName == "" {
		d.LinkName = DefaultLinkName
	}
	if d.DefaultRPCTimeoutMS == 0 {
		d.DefaultRPCTimeoutMS = DefaultRPCTimeout
	}
	return nil
}
