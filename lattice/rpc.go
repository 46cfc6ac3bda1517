package lattice

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// The RPC round trip (PROTOCOL.md §7), written once: Caller is the side that sends invocations
// (a host's actor host calls, a provider calling actors, the ctl client), Server the side that
// answers them (a host for its actors, the provider SDK). Both move payloads over
// MaxInlinePayload through the lattice's object store, under the keys chunkKey and
// responseChunkKey.

// minReplyChunkGrace is the least time a server leaves its caller to take a chunked reply before
// deleting it.
const minReplyChunkGrace = 5 * time.Second

// ErrNoResponder: nothing is subscribed to an invocation's subject (the actor or provider does
// not run on the lattice). Every caller reports it the same way.
var ErrNoResponder = errors.New("nothing is running to answer")

// chunkKey names the object holding an invocation's chunked payload; responseChunkKey the one
// holding its chunked response.
func chunkKey(invocationID string) string         { return invocationID }
func responseChunkKey(invocationID string) string { return invocationID + "-r" }

// RemoteError is the error text an invocation's response carried: the target (or its host)
// refused or failed the call. It wraps ErrInvocation.
type RemoteError struct {
	Op   string // what was called, e.g. "call actor M… HttpServer.HandleRequest"
	Text string // the response's error, as the other side wrote it
}

// Error names the call and carries the text the other side answered with.
func (e *RemoteError) Error() string { return e.Op + ": " + ErrInvocation.Error() + ": " + e.Text }

// Unwrap makes errors.Is(err, ErrInvocation) hold.
func (e *RemoteError) Unwrap() error { return ErrInvocation }

// Caller sends signed invocations and waits for their responses. It is safe for concurrent use.
type Caller struct {
	nc      *nats.Conn
	cluster *KeyPair
	hostID  string
	subj    Subjects
	chunks  *Chunks
	timeout time.Duration
	tracer  trace.Tracer // nil: no spans of its own
}

// NewCaller returns a caller on nc that signs with the cluster key, names hostID as the
// invocations' host, and waits timeout for an answer unless a call's ctx has a deadline.
func NewCaller(nc *nats.Conn, cluster *KeyPair, hostID string, subj Subjects, chunks *Chunks, timeout time.Duration) *Caller {
	if timeout <= 0 {
		timeout = DefaultRPCTimeout * time.Millisecond
	}
	return &Caller{nc: nc, cluster: cluster, hostID: hostID, subj: subj, chunks: chunks, timeout: timeout}
}

// WithTracer returns a copy of the caller that makes a client span for each call (see
// StartInvocationSpan) with a tracer of tp; nil tp makes none. Either way a call carries the
// span context of its ctx in the invocation's traceContext.
func (c *Caller) WithTracer(tp trace.TracerProvider) *Caller {
	cc := *c
	cc.tracer = nil
	if tp != nil {
		cc.tracer = tp.Tracer(TracerName)
	}
	return &cc
}

// Subject is where an invocation of target goes: wasmbus.rpc.{L}.{actor}, or
// wasmbus.rpc.{L}.{provider}.{link name} for a provider.
func (c *Caller) Subject(target Entity) string {
	if target.IsActor() {
		return c.subj.Actor(target.PublicKey)
	}
	return c.subj.Provider(target.PublicKey, orDefaultLink(target.LinkName))
}

func orDefaultLink(name string) string {
	if name == "" {
		return DefaultLinkName
	}
	return name
}

// callName says what a call is for errors: "call actor M… Op" or "call provider V… (contract,
// link name L) Op".
func callName(target Entity, op string) string {
	if target.IsActor() {
		return "call actor " + target.PublicKey + " " + op
	}
	return fmt.Sprintf("call provider %s (%s, link name %s) %s", target.PublicKey, target.ContractID, orDefaultLink(target.LinkName), op)
}

// Call invokes op on target from origin with msg and returns the reply. It waits for the
// caller's timeout unless ctx has a deadline, which then wins. Errors: nothing subscribed wraps
// ErrNoResponder; no answer in time wraps context.DeadlineExceeded; an error the other side
// answers with is a *RemoteError (wrapping ErrInvocation).
func (c *Caller) Call(ctx context.Context, origin, target Entity, op string, msg []byte) (out []byte, err error) {
	if c.tracer != nil {
		var span trace.Span
		ctx, span = StartInvocationSpan(ctx, c.tracer, trace.SpanKindClient, origin, target, op, "")
		defer func() { EndSpan(span, err) }()
	}
	name := callName(target, op)
	if c.cluster == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNoClusterSeed)
	}
	if op == "" {
		return nil, fmt.Errorf("%s: operation is empty", name)
	}
	inv, err := NewInvocation(c.cluster, c.hostID, origin, target, op, msg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if c.tracer != nil {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("wasmbus.invocation_id", inv.ID))
	}
	inv.TraceContext = InjectTraceContext(ctx, inv.TraceContext)
	msg = inv.Msg
	size := uint64(len(msg))
	inv.ContentLength = &size

	limit := c.timeout
	if dl, ok := ctx.Deadline(); ok {
		limit = time.Until(dl)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	chunked := len(msg) > MaxInlinePayload
	if chunked {
		// The claims hash covers the whole payload, which travels through the object store.
		if err := c.chunks.put(ctx, chunkKey(inv.ID), msg); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		inv.Msg = []byte{}
	}
	out, err = c.request(ctx, name, limit, inv, target)
	if err != nil && chunked {
		// The server read and deleted the payload, or never will: delete it if it is still there.
		c.chunks.remove(ctx, chunkKey(inv.ID))
	}
	return out, err
}

// request sends a signed invocation and reads its response.
func (c *Caller) request(ctx context.Context, name string, limit time.Duration, inv *Invocation, target Entity) ([]byte, error) {
	buf := getBuf()
	*buf = inv.appendTo(*buf)
	subject := c.Subject(target)
	reply, err := c.nc.RequestWithContext(ctx, subject, *buf)
	putBuf(buf)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%s: %w on %s: is %s running on lattice %s?", name, ErrNoResponder, subject, target.PublicKey, c.subj.Lattice)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		// A reply the server stores after this is deleted by the server's own timer.
		c.chunks.removeIfBound(ctx, responseChunkKey(inv.ID))
		return nil, fmt.Errorf("%s: no reply on %s within %s: %w", name, subject, limit.Round(time.Millisecond), context.DeadlineExceeded)
	case err != nil:
		return nil, fmt.Errorf("%s: request on %s: %w", name, subject, err)
	}
	resp, err := DecodeInvocationResponse(reply.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: reply on %s: %w", name, subject, err)
	}
	// Responses are not signed (PROTOCOL.md §7); one that answers another invocation is refused,
	// and an answer that is not an error must name its invocation.
	if resp.InvocationID != inv.ID && (resp.InvocationID != "" || resp.Error == "") {
		return nil, fmt.Errorf("%s: reply on %s is for invocation %q, not %s", name, subject, resp.InvocationID, inv.ID)
	}
	if resp.Error != "" {
		return nil, &RemoteError{Op: name, Text: resp.Error}
	}
	if len(resp.Msg) == 0 && resp.ContentLength != nil && *resp.ContentLength > 0 {
		out, err := c.chunks.take(ctx, responseChunkKey(inv.ID), *resp.ContentLength)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return out, nil
	}
	if resp.Msg == nil {
		resp.Msg = []byte{}
	}
	return resp.Msg, nil
}

// Handler is what a Server serves invocations to.
type Handler interface {
	// Name says who answers, for the errors in responses: "actor M…", "provider V…".
	Name() string
	// Accept checks an invocation that passed the anti-forgery check (its target, the caller's
	// link and capabilities); an error refuses it and becomes the response's error.
	Accept(inv *Invocation) error
	// Handle runs an accepted invocation; inv.Msg holds the whole payload (a chunked one is
	// already read). An error becomes the response's error.
	Handle(ctx context.Context, inv *Invocation) ([]byte, error)
}

// Server answers invocations: it decodes them, runs the anti-forgery check against its cluster
// issuers, asks the handler to accept and then handle them, and writes the response, moving large
// payloads through the object store both ways.
//
// Each invocation is answered once: the server remembers the ids of the invocations it accepted
// until they expire (InvocationLifetime), at most ReplayCacheSize of them, and refuses a replay
// with ErrReplayedInvocation.
type Server struct {
	// Issuers are the cluster keys whose invocations are trusted.
	Issuers []string
	Chunks  *Chunks
	// Timeout bounds one invocation from receipt to response.
	Timeout time.Duration
	// ReplayCacheSize is how many invocation ids the server remembers; 0 means
	// DefaultReplayCacheSize.
	ReplayCacheSize int
	Log             zerolog.Logger
	// Tracer, when set, makes a server span for each invocation answered (StartInvocationSpan),
	// a child of the span the invocation's traceContext names. Without it the handler's context
	// still carries that remote span context.
	Tracer trace.Tracer

	replayOnce sync.Once
	replays    *replayCache
}

// replayCache is the server's, made on first use.
func (s *Server) replayCache() *replayCache {
	s.replayOnce.Do(func() { s.replays = newReplayCache(s.ReplayCacheSize) })
	return s.replays
}

// Respond answers the invocation in m (when m has a reply subject) under base: a handler's
// context ends when base does or Timeout passes.
func (s *Server) Respond(base context.Context, m *nats.Msg, h Handler) {
	resp := s.Answer(base, m.Data, h)
	if m.Reply == "" {
		return
	}
	buf := getBuf()
	if resp.Msg == nil {
		resp.Msg = []byte{}
	}
	*buf = resp.appendTo(*buf)
	if err := m.Respond(*buf); err != nil {
		s.Log.Debug().Err(err).Str("subject", m.Subject).Msg("respond to invocation")
		if len(resp.Msg) == 0 && resp.ContentLength != nil && *resp.ContentLength > 0 {
			s.Chunks.remove(base, responseChunkKey(resp.InvocationID))
		}
	}
	putBuf(buf)
}

// Refuse answers m with an error without reading the invocation (a server that is stopping).
func Refuse(m *nats.Msg, text string) error {
	if m.Reply == "" {
		return nil
	}
	resp := InvocationResponse{Msg: []byte{}, Error: text}
	return m.Respond(resp.appendTo(nil))
}

// Answer is Respond without the message: the response to one encoded invocation.
func (s *Server) Answer(base context.Context, data []byte, h Handler) *InvocationResponse {
	inv, err := DecodeInvocation(data)
	if err != nil {
		s.Log.Warn().Err(err).Msg("invocation refused")
		return &InvocationResponse{Error: fmt.Sprintf("%s: %v", h.Name(), err)}
	}
	resp := &InvocationResponse{InvocationID: inv.ID}
	base = ExtractTraceContext(base, inv.TraceContext)
	if s.Tracer != nil {
		var span trace.Span
		base, span = StartInvocationSpan(base, s.Tracer, trace.SpanKindServer, inv.Origin, inv.Target, inv.Operation, inv.ID)
		defer func() { endSpanText(span, resp.Error) }()
	}
	now := time.Now()
	refuse := func(err error) *InvocationResponse {
		s.Log.Warn().Err(err).Str("origin", inv.Origin.PublicKey).Str("operation", inv.Operation).Msg("invocation refused")
		resp.Error = err.Error()
		return resp
	}
	v, err := inv.validate(s.Issuers, now)
	if err == nil {
		err = s.replayCache().admit(inv.ID, v.expires, now.Unix())
	}
	if err != nil {
		return refuse(fmt.Errorf("%s: invocation %s of %s: %w", h.Name(), inv.ID, inv.Operation, err))
	}
	chunked := inv.chunked()
	if err := h.Accept(inv); err != nil {
		if chunked {
			s.Chunks.remove(base, chunkKey(inv.ID))
		}
		return refuse(err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultRPCTimeout * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(base, timeout)
	defer cancel()
	if chunked {
		msg, err := s.Chunks.take(ctx, chunkKey(inv.ID), *inv.ContentLength)
		if err != nil {
			resp.Error = fmt.Sprintf("%s: invocation %s: %v", h.Name(), inv.ID, err)
			return resp
		}
		inv.Msg = msg
	}
	if err := inv.checkHash(v); err != nil {
		return refuse(fmt.Errorf("%s: invocation %s of %s: %w", h.Name(), inv.ID, inv.Operation, err))
	}
	out, err := h.Handle(ctx, inv)
	if err != nil {
		resp.Error = err.Error()
		return resp
	}
	if out == nil {
		out = []byte{}
	}
	size := uint64(len(out))
	resp.ContentLength = &size
	if len(out) > MaxInlinePayload {
		key := responseChunkKey(inv.ID)
		if err := ctx.Err(); err != nil {
			resp.Error = fmt.Sprintf("%s: invocation %s: reply of %d bytes not stored: %v", h.Name(), inv.ID, len(out), err)
			resp.ContentLength = nil
			return resp
		}
		if err := s.Chunks.put(ctx, key, out); err != nil {
			resp.Error = fmt.Sprintf("%s: invocation %s: reply: %v", h.Name(), inv.ID, err)
			resp.ContentLength = nil
			return resp
		}
		// The caller takes the reply as soon as it arrives; one that is still there a timeout
		// later has no caller left to take it.
		time.AfterFunc(max(timeout, minReplyChunkGrace), func() { s.Chunks.remove(context.Background(), key) })
		out = []byte{}
	}
	resp.Msg = out
	return resp
}
