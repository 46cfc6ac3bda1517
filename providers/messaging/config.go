package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// Link values, looked up case-insensitively.
const (
	// SubscriptionKey: comma-separated subjects to deliver to the actor; "subject|queue" joins a
	// queue group. See ParseSubscriptions.
	SubscriptionKey = "SUBSCRIPTION"
	// URIKey: the NATS server(s) of the actor's connection, comma-separated.
	URIKey = "URI"
	// ClientJWTKey and ClientSeedKey: user JWT and nkey seed of the actor's connection; both or
	// neither.
	ClientJWTKey  = "CLIENT_JWT"
	ClientSeedKey = "CLIENT_SEED"
)

// Config configures the provider.
type Config struct {
	// Logger receives the provider's logs. When it is disabled, Init takes the SDK's logger.
	Logger zerolog.Logger
	// DefaultURL is the NATS server of links without URI (and without cluster_uris in the
	// host's config_json). Empty: the server of the lattice connection.
	DefaultURL string
	// ConnectTimeout bounds connecting an actor's connection when its link is put.
	ConnectTimeout time.Duration
	// MaxConcurrent is how many messages of one subscription may be in delivery to the actor at
	// once (upstream: 75). Beyond that, the subscription waits.
	MaxConcurrent int
}

// DefaultConfig returns a Config with a disabled logger, the lattice's server as default,
// a 5 s connect timeout and 75 concurrent deliveries per subscription.
func DefaultConfig() Config {
	return Config{Logger: zerolog.Nop(), ConnectTimeout: 5 * time.Second, MaxConcurrent: 75}
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.ConnectTimeout <= 0 {
		return fmt.Errorf("messaging provider config: ConnectTimeout %s: want > 0", c.ConnectTimeout)
	}
	if c.MaxConcurrent <= 0 {
		return fmt.Errorf("messaging provider config: MaxConcurrent %d: want > 0", c.MaxConcurrent)
	}
	return nil
}

// ConnectionConfig is the provider-wide default connection, read from the host's config_json as
// upstream's NATS provider reads it. A link's values override it field by field: SUBSCRIPTION
// replaces subscriptions, URI replaces cluster_uris, CLIENT_JWT and CLIENT_SEED the credentials.
type ConnectionConfig struct {
	Subscriptions []string `json:"subscriptions"`
	ClusterURIs   []string `json:"cluster_uris"`
	AuthJWT       string   `json:"auth_jwt"`
	AuthSeed      string   `json:"auth_seed"`
}

// ParseConnectionConfig parses config_json; blank is the empty configuration.
func ParseConnectionConfig(configJSON string) (ConnectionConfig, error) {
	var c ConnectionConfig
	if strings.TrimSpace(configJSON) == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(configJSON), &c); err != nil {
		return ConnectionConfig{}, fmt.Errorf("messaging config_json: %w", err)
	}
	for _, s := range c.Subscriptions {
		if _, err := ParseSubscriptions(s); err != nil {
			return ConnectionConfig{}, fmt.Errorf("messaging config_json subscriptions: %w", err)
		}
	}
	return c, nil
}

// connection is what an actor's connection is made of, resolved from its link and the defaults.
type connection struct {
	subs []Subscription
	urls []string
	jwt  string
	seed string
}

// resolve merges a link's values over the defaults; defaultURL is the last resort.
func resolve(l lattice.LinkDefinition, def ConnectionConfig, defaultURL string) (connection, error) {
	var c connection
	subs := strings.Join(def.Subscriptions, ",")
	if v, ok := l.Value(SubscriptionKey); ok && strings.TrimSpace(v) != "" {
		subs = v
	}
	var err error
	if c.subs, err = ParseSubscriptions(subs); err != nil {
		return connection{}, fmt.Errorf("link value %s: %w", SubscriptionKey, err)
	}

	c.urls = def.ClusterURIs
	if v, ok := l.Value(URIKey); ok && strings.TrimSpace(v) != "" {
		c.urls = strings.Split(v, ",")
	}
	c.urls = cleanURLs(c.urls)
	if len(c.urls) == 0 {
		c.urls = cleanURLs([]string{defaultURL})
	}
	if len(c.urls) == 0 {
		return connection{}, errors.New("no NATS server: the link has no URI and there is no default")
	}

	c.jwt, c.seed = def.AuthJWT, def.AuthSeed
	if v, ok := l.Value(ClientJWTKey); ok {
		c.jwt = strings.TrimSpace(v)
	}
	if v, ok := l.Value(ClientSeedKey); ok {
		c.seed = strings.TrimSpace(v)
	}
	if (c.jwt == "") != (c.seed == "") {
		return connection{}, fmt.Errorf("link values %s and %s go together: give both or neither", ClientJWTKey, ClientSeedKey)
	}
	if c.seed != "" {
		kp, err := lattice.KeyPairFromSeed(c.seed)
		if err != nil {
			return connection{}, fmt.Errorf("link value %s: %w", ClientSeedKey, err)
		}
		if kp.Prefix() != lattice.PrefixUser {
			return connection{}, fmt.Errorf("link value %s: a %s seed, want a user seed (SU…)", ClientSeedKey, kp.Prefix())
		}
	}
	return c, nil
}

// cleanURLs trims the URLs and drops empty ones.
func cleanURLs(in []string) []string {
	var out []string
	for _, u := range in {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
