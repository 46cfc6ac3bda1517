package lattice

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	if d.LatticeRPCURL == "" {
		return errors.New("host data lattice_rpc_url: empty")
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
