package lattice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// Control-client errors, for branching with errors.Is.
var (
	// ErrNoHost: nobody listens on the subject a request was sent to.
	ErrNoHost = errors.New("no host answered")
	// ErrRefused: a host acked a command with accepted=false. The error is a *RefusedError.
	ErrRefused = errors.New("command refused")
	// ErrInvocation: an actor call was answered with an error.
	ErrInvocation = errors.New("invocation failed")
	// ErrHostIDRequired: a host command was given no host id.
	ErrHostIDRequired = errors.New("host id is required; use `trellis ctl get hosts`")
	// ErrNoClusterSeed: Call needs the lattice's cluster seed to sign invocations.
	ErrNoClusterSeed = errors.New("no cluster seed configured: invocations must be signed with the lattice's cluster seed (SC…)")
)

// RefusedError is a host's refusal of a control command: its ack said accepted=false.
type RefusedError struct {
	Op      string // what was asked, e.g. "start actor REF"
	Subject string // where it was sent
	Reason  string // the host's error text
}

// Error says what was refused and why.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s on %s: %v: %s", e.Op, e.Subject, ErrRefused, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// ClientConfig configures a Client. The zero value of a field means its default.
type ClientConfig struct {
	// Lattice is the lattice prefix {L}; default "default".
	Lattice string
	// Timeout bounds each request (commands, queries, Call) when the context has no deadline; a
	// context deadline replaces it. It also bounds GetHosts. Default 2s.
	Timeout time.Duration
	// AuctionTimeout is how long auctions collect replies (never longer than the context
	// allows); every reply that arrives in that time is kept. Default 3s.
	AuctionTimeout time.Duration
	// HostsQuietPeriod ends GetHosts early: once a host has answered, it stops when no further
	// reply has come for this long. Negative waits for the whole Timeout. Default 500ms.
	HostsQuietPeriod time.Duration
	// ClusterSeed (SC…) signs the invocations of Call. Only Call needs it.
	ClusterSeed string
	// Logger receives warnings about replies and events that cannot be decoded. Default: disabled.
	Logger zerolog.Logger
}

// DefaultClientConfig returns the defaults.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{
		Lattice:          DefaultLattice,
		Timeout:          2 * time.Second,
		AuctionTimeout:   3 * time.Second,
		HostsQuietPeriod: 500 * time.Millisecond,
	}
}

// withDefaults fills the zero fields.
func (c ClientConfig) withDefaults() ClientConfig {
	d := DefaultClientConfig()
	if c.Lattice == "" {
		c.Lattice = d.Lattice
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.AuctionTimeout == 0 {
		c.AuctionTimeout = d.AuctionTimeout
	}
	if c.HostsQuietPeriod == 0 {
		c.HostsQuietPeriod = d.HostsQuietPeriod
	}
	return c
}

// Validate reports what is wrong with the configuration, after defaults are applied.
func (c ClientConfig) Validate() error {
	c = c.withDefaults()
	if err := checkLatticeName(c.Lattice); err != nil {
		return fmt.Errorf("ctl client: %w", err)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("ctl client: timeout %s is negative", c.Timeout)
	}
	if c.AuctionTimeout < 0 {
		return fmt.Errorf("ctl client: auction timeout %s is negative", c.AuctionTimeout)
	}
	if c.ClusterSeed != "" {
		kp, err := KeyPairFromSeed(c.ClusterSeed)
		if err != nil {
			return fmt.Errorf("ctl client: cluster seed: %w", err)
		}
		if kp.Prefix() != PrefixCluster {
			return fmt.Errorf("ctl client: cluster seed: %w: it is a %s seed, want a cluster seed (SC…)", ErrWrongKeyKind, kp.Prefix())
		}
	}
	return nil
}

// Client drives a lattice through its control interface (PROTOCOL.md §4–§6): the CLI and the
// dashboard use it. Commands are acked at once by a host; what they lead to arrives later as an
// event (see Subscribe and NewWaiter). A Client is safe for concurrent use.
type Client struct {
	nc   *nats.Conn
	cfg  ClientConfig
	subj Subjects
	log  zerolog.Logger

	cluster *KeyPair // signs invocations; nil without a cluster seed
	origin  *KeyPair // the module key Call presents as the caller
	hostID  string   // the host id Call puts in invocations

	caller *Caller // Call's invocations
}

// NewClient returns a client of the lattice on nc. Zero fields of cfg take their defaults.
func NewClient(nc *nats.Conn, cfg ClientConfig) (*Client, error) {
	if nc == nil {
		return nil, errors.New("ctl client: no NATS connection")
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		nc:   nc,
		cfg:  cfg,
		subj: NewSubjects(cfg.Lattice),
		log:  cfg.Logger.With().Str("component", "ctl").Str("lattice", cfg.Lattice).Logger(),
	}
	if cfg.ClusterSeed != "" {
		kp, err := KeyPairFromSeed(cfg.ClusterSeed)
		if err != nil {
			return nil, fmt.Errorf("ctl client: cluster seed: %w", err)
		}
		c.cluster = kp
	}
	origin, err := CreateKeyPair(PrefixModule)
	if err != nil {
		return nil, fmt.Errorf("ctl client: %w", err)
	}
	host, err := CreateKeyPair(PrefixServer)
	if err != nil {
		return nil, fmt.Errorf("ctl client: %w", err)
	}
	c.origin, c.hostID = origin, host.PublicKey()
	c.caller = NewCaller(nc, c.cluster, c.hostID, c.subj, NewChunks(nc, "", cfg.Lattice, ChunkLimits{}, c.log), cfg.Timeout)
	return c, nil
}

// Lattice returns the lattice the client drives.
func (c *Client) Lattice() string { return c.cfg.Lattice }

// Subjects returns the lattice's subjects.
func (c *Client) Subjects() Subjects { return c.subj }

// OriginKey is the module public key Call presents as the caller of actors.
func (c *Client) OriginKey() string { return c.origin.PublicKey() }

// withTimeout bounds ctx by d unless ctx already has a deadline, which then wins. It returns the
// time allowed, for error messages.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc, time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		return ctx, func() {}, time.Until(dl)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, d
}

// request sends payload (JSON; nothing when nil) on subject and returns the reply's data. hostID,
// when set, names the host expected to answer in errors.
func (c *Client) request(ctx context.Context, op, subject, hostID string, payload any) ([]byte, error) {
	var data []byte
	if payload != nil {
		var err error
		if data, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("%s: encode request: %w", op, err)
		}
	}
	ctx, cancel, limit := withTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return nil, c.requestError(op, subject, hostID, limit, err)
	}
	return msg.Data, nil
}

func (c *Client) requestError(op, subject, hostID string, limit time.Duration, err error) error {
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		if hostID != "" {
			return fmt.Errorf("%s: %w on %s: is host %s running on lattice %s? (`trellis ctl get hosts` lists them)",
				op, ErrNoHost, subject, hostID, c.cfg.Lattice)
		}
		return fmt.Errorf("%s: %w on %s: is a host running on lattice %s?", op, ErrNoHost, subject, c.cfg.Lattice)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("%s: no answer on %s within %s: %w", op, subject, limit.Round(time.Millisecond), err)
	}
	return fmt.Errorf("%s: request on %s: %w", op, subject, err)
}

// command sends a control command and turns its ack into an error.
func (c *Client) command(ctx context.Context, op, subject, hostID string, payload any) error {
	data, err := c.request(ctx, op, subject, hostID, payload)
	if err != nil {
		return err
	}
	var ack Ack
	if err := json.Unmarshal(data, &ack); err != nil {
		return fmt.Errorf("%s: malformed ack on %s: %w", op, subject, err)
	}
	if !ack.Accepted {
		reason := ack.Error
		if reason == "" {
			reason = "no reason given"
		}
		return &RefusedError{Op: op, Subject: subject, Reason: reason}
	}
	return nil
}

// query sends a request and decodes its JSON reply into out.
func (c *Client) query(ctx context.Context, op, subject, hostID string, out any) error {
	data, err := c.request(ctx, op, subject, hostID, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: malformed reply on %s: %w", op, subject, err)
	}
	return nil
}

// gather publishes payload on subject and passes every reply to each until limit has passed (or
// ctx's deadline, when sooner) or, when quiet > 0, quiet has passed since the latest reply. Replies
// each refuses are logged and skipped; when some arrived and none was taken, the first reason is
// returned. Nobody listening is not an error: there is nothing to gather.
func (c *Client) gather(ctx context.Context, op, subject string, payload any, limit, quiet time.Duration, each func([]byte) error) error {
	var data []byte
	if payload != nil {
		var err error
		if data, err = json.Marshal(payload); err != nil {
			return fmt.Errorf("%s: encode request: %w", op, err)
		}
	}
	inbox := c.nc.NewInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("%s: subscribe to replies: %w", op, err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // the replies are in; a failed unsubscribe changes nothing
	if err := c.nc.PublishRequest(subject, inbox, data); err != nil {
		return fmt.Errorf("%s: publish on %s: %w", op, subject, err)
	}
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var taken, bad int
	var firstBad error
	for {
		next := wctx
		stop := func() {}
		if quiet > 0 && taken > 0 {
			next, stop = context.WithTimeout(wctx, quiet)
		}
		msg, err := sub.NextMsgWithContext(next)
		stop()
		if err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("%s: %w", op, ctx.Err())
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrNoResponders) {
				break // the time is up, or nobody listens
			}
			return fmt.Errorf("%s: replies on %s: %w", op, subject, err)
		}
		if err := each(msg.Data); err != nil {
			bad++
			if firstBad == nil {
				firstBad = err
			}
			c.log.Warn().Err(err).Str("subject", subject).Msg("skipped a malformed reply")
			continue
		}
		taken++
	}
	if taken == 0 && bad > 0 {
		return fmt.Errorf("%s: %d replies on %s, none usable: %w", op, bad, subject, firstBad)
	}
	return nil
}

// checkHostID refuses an empty or malformed host id, which would also address the wrong subject.
func checkHostID(op, hostID string) error {
	if hostID == "" {
		return fmt.Errorf("%s: %w", op, ErrHostIDRequired)
	}
	if err := CheckPublicKey(PrefixServer, hostID); err != nil {
		return fmt.Errorf("%s: host id: %w", op, err)
	}
	return nil
}
