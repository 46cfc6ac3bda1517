package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

// `trellis spy ACTOR` watches an actor's traffic without taking part in it. Invocations of the
// actor travel on wasmbus.rpc.{L}.{actor}, where its hosts listen in a queue group: a plain
// subscription gets a copy of each without taking it from them. The actor's own calls travel on
// the subjects of what it calls (wasmbus.rpc.{L}.{provider}.{link} and other actors' subjects),
// picked out by their origin. A reply goes to the inbox the caller named in the request's reply
// subject, _INBOX.… for every NATS client of the lattice: the spy subscribes to _INBOX.> from the
// start and keeps the replies to the requests it saw, so it cannot miss one by subscribing late.
// All of it arrives on one channel in the order the server sent it. On a NATS cluster a reply
// can still overtake its request (they reach the spy's server by different routes): replies to
// requests not seen yet are kept for a few seconds, within a byte budget, and matched when their
// request comes. A reply subject outside the inbox prefix gets its own subscription when its
// request is seen, which a fast reply can beat: the spy then says that no reply was seen.

const (
	spyMaxPending  = 10000 // requests whose reply is awaited at once; more are shown without it
	spyChannelSize = 8192  // messages buffered between the connection and the printer
	// Replies that came before their request (or are to something else) are kept this long,
	// within this many bytes.
	spyEarlyKeep  = 5 * time.Second
	spyEarlyBytes = 16 << 20
)

type spyFlags struct {
	ctl       ctlFlags
	inbox     string
	replyWait millis
	out       outputFormat
}

func newSpyCmd() *cobra.Command {
	var f spyFlags
	cmd := &cobra.Command{
		Use:   "spy ACTOR",
		Short: "Watch an actor's invocations and replies, decoded, until Ctrl-C",
		Long: `Print every invocation of the actor ACTOR (its id M…, or its name or call alias as
` + "`ctl get claims`" + ` shows them), every call it makes, and their replies, as they travel over
NATS: the time, the operation, who called whom (key, contract and link name), the size, the
msgpack payload decoded to JSON (bin values that are UTF-8 shown as strings), and the reply's
size, payload, error and latency. Nothing is taken from the lattice: the hosts and providers
still get and answer every message. Payloads over 900 KiB travel through the JetStream object
store and are shown as chunked with their size, not fetched. -o json prints one JSON object per
line.

What spy cannot see: calls that do not travel over NATS. A built-in provider (such as
` + "`ctl start provider builtin:http-server`" + `) calls an actor running on its own host in
process; run the provider from its archive, or the actor on another host, to watch those.

It needs to subscribe to wasmbus.rpc.{lattice}.> and to _INBOX.> (--inbox-prefix): in an
authenticated lattice, connect as a user allowed to (the chart's operator user is). A refused
subscription ends spy with the server's error.`,
		Example: "  trellis spy MB2ZQB6ROOMAYBO4ZCTFYWN7YIVBWA3MTKZYAQKJMTIHE2ELLRW2E3ZW\n  trellis spy echo -o json --nats-url nats://127.0.0.1:4222",
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return runSpy(cmd, args[0], &f) },
	}
	fs := cmd.Flags()
	f.ctl.register(fs)
	_ = fs.MarkHidden("cluster-seed") // spy signs nothing
	fs.StringVar(&f.inbox, "inbox-prefix", nats.InboxPrefix[:len(nats.InboxPrefix)-1], "subject prefix of the lattice's reply inboxes")
	f.replyWait = millis(time.Minute)
	fs.Var(&f.replyWait, "reply-wait", "how long to wait for the reply to an invocation before saying none was seen")
	addOutputFlag(fs, &f.out)
	return cmd
}

func runSpy(cmd *cobra.Command, arg string, f *spyFlags) error {
	inbox := strings.TrimSuffix(strings.TrimSpace(f.inbox), ".")
	if inbox == "" || strings.ContainsAny(inbox, " *>") {
		return fmt.Errorf("--inbox-prefix %q: want a subject prefix such as _INBOX", f.inbox)
	}
	s, err := f.ctl.connect(cmd, false)
	if err != nil {
		return err
	}
	defer s.close()
	// Set first: a refused subscription (the reply inbox of the claims lookup too) comes back as
	// an asynchronous error, which would otherwise only be printed by the NATS client.
	errs := make(chan error, 1)
	s.nc.SetErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		if sub != nil {
			err = fmt.Errorf("subscription to %s: %w", sub.Subject, err)
		}
		select {
		case errs <- err:
		default:
		}
	})
	ctx := cmd.Context()
	actor, name, err := resolveSpiedActor(ctx, s, arg)
	if err != nil {
		select {
		case aerr := <-errs:
			return fmt.Errorf("%w (%v)", err, aerr)
		default:
			return err
		}
	}
	subjects := lattice.NewSubjects(f.ctl.lattice)
	msgs := make(chan *nats.Msg, spyChannelSize)
	sp := newSpy(cmd.OutOrStdout(), f.out, actor, inbox, time.Duration(f.replyWait))
	sp.subscribe = func(subject string) error {
		sub, err := s.nc.ChanSubscribe(subject, msgs)
		if err == nil {
			err = sub.AutoUnsubscribe(1)
		}
		return err
	}
	for _, subject := range []string{subjects.Actor("*"), subjects.Provider("*", "*"), inbox + ".>"} {
		if _, err := s.nc.ChanSubscribe(subject, msgs); err != nil {
			return fmt.Errorf("spy: subscribe to %s: %w", subject, err)
		}
	}
	if err := s.nc.FlushTimeout(max(time.Duration(f.ctl.timeout), time.Second)); err != nil {
		return fmt.Errorf("spy: %w", err)
	}
	// With -o json the header goes to stderr, so that stdout is one JSON object per line.
	header := cmd.OutOrStdout()
	if f.out == outputJSON {
		header = cmd.ErrOrStderr()
	}
	fmt.Fprintf(header, "Spying on actor %s in lattice %s at %s; Ctrl-C to stop.\n", name, f.ctl.lattice, s.url)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return fmt.Errorf("spy: %w (spy subscribes to %s and %s.>: connect as a user allowed to)", err, subjects.Actor(">"), inbox)
		case m := <-msgs:
			sp.handle(m, time.Now())
		case now := <-tick.C:
			sp.expire(now)
		}
		if sp.err != nil {
			return sp.err
		}
	}
}

// resolveSpiedActor takes an actor id, or a name or call alias from the lattice's claims.
func resolveSpiedActor(ctx context.Context, s *ctlSession, arg string) (id, label string, err error) {
	if lattice.CheckPublicKey(lattice.PrefixModule, arg) == nil {
		return arg, arg, nil
	}
	claims, err := s.GetClaims(ctx)
	if err != nil {
		return "", "", fmt.Errorf("spy %s: not an actor id (M…), and the claims to look it up by name: %w", arg, err)
	}
	var found []string
	for _, c := range claims {
		if strings.HasPrefix(c["sub"], "M") && (c["name"] == arg || c["call_alias"] == arg) && !slices.Contains(found, c["sub"]) {
			found = append(found, c["sub"])
		}
	}
	switch len(found) {
	case 0:
		return "", "", fmt.Errorf("spy %s: not an actor id (M…), nor the name or call alias of an actor in the lattice's claims (`trellis ctl get claims`)", arg)
	case 1:
		return found[0], found[0] + " (" + arg + ")", nil
	}
	return "", "", fmt.Errorf("spy %s: %d actors have that name or call alias (%s); give the id", arg, len(found), strings.Join(found, ", "))
}

// spy decodes and prints what it sees of one actor's traffic.
type spy struct {
	w         io.Writer
	out       outputFormat
	actor     string
	inbox     string // reply subjects under inbox + "." are seen through one subscription
	replyWait time.Duration
	subscribe func(subject string) error // a one-message subscription to another reply subject
	pending   map[string]spiedCall       // by reply subject
	early     map[string]earlyReply      // inbox messages of no request seen yet, by subject
	earlySize int                        // bytes held in early
	err       error                      // the first write error ends the spy
}

type earlyReply struct {
	data []byte
	at   time.Time
}

type spiedCall struct {
	id, operation string
	peer          string // the other end, for the reply line
	at            time.Time
}

func newSpy(w io.Writer, out outputFormat, actor, inbox string, replyWait time.Duration) *spy {
	return &spy{w: w, out: out, actor: actor, inbox: inbox + ".", replyWait: replyWait, pending: map[string]spiedCall{}, early: map[string]earlyReply{}}
}

func (sp *spy) printf(format string, args ...any) {
	if sp.err == nil {
		_, sp.err = fmt.Fprintf(sp.w, format, args...)
	}
}

func (sp *spy) emit(v map[string]any) {
	if sp.err == nil {
		b, err := marshalCompact(v)
		if err == nil {
			_, err = fmt.Fprintf(sp.w, "%s\n", b)
		}
		sp.err = err
	}
}

// handle takes one message of the subscriptions.
func (sp *spy) handle(m *nats.Msg, now time.Time) {
	if call, ok := sp.pending[m.Subject]; ok {
		delete(sp.pending, m.Subject)
		sp.reply(call, m.Data, now)
		return
	}
	if strings.HasPrefix(m.Subject, sp.inbox) {
		// A reply to something else, or to a request still on its way.
		if _, dup := sp.early[m.Subject]; !dup && sp.earlySize+len(m.Data) <= spyEarlyBytes {
			sp.early[m.Subject] = earlyReply{data: m.Data, at: now}
			sp.earlySize += len(m.Data)
		}
		return
	}
	inv, err := lattice.DecodeInvocation(m.Data)
	if err != nil {
		if strings.HasSuffix(m.Subject, "."+sp.actor) {
			sp.undecodable(m, err, now)
		}
		return // not an invocation (or not this actor's): links, health checks of providers
	}
	var in bool
	switch sp.actor {
	case inv.Target.PublicKey:
		in = true
	case inv.Origin.PublicKey:
	default:
		return
	}
	note := sp.track(m.Reply, inv, in, now)
	sp.invocation(inv, in, note, now)
	if e, ok := sp.early[m.Reply]; ok && note == "" {
		sp.dropEarly(m.Reply)
		call := sp.pending[m.Reply]
		delete(sp.pending, m.Reply)
		call.at = e.at // it overtook its request: no latency to tell
		sp.reply(call, e.data, e.at)
	}
}

func (sp *spy) dropEarly(subject string) {
	sp.earlySize -= len(sp.early[subject].data)
	delete(sp.early, subject)
}

// track remembers a request whose reply is to be shown; it returns why it is not, if so.
func (sp *spy) track(reply string, inv *lattice.Invocation, in bool, now time.Time) string {
	switch {
	case reply == "":
		return "no reply asked for"
	case len(sp.pending) >= spyMaxPending:
		return fmt.Sprintf("reply not followed: %d replies awaited already", len(sp.pending))
	case !strings.HasPrefix(reply, sp.inbox):
		if err := sp.subscribe(reply); err != nil {
			return fmt.Sprintf("reply not followed: subscribe to %s: %v", reply, err)
		}
	}
	peer := inv.Origin
	if !in {
		peer = inv.Target
	}
	sp.pending[reply] = spiedCall{id: inv.ID, operation: inv.Operation, peer: peer.PublicKey, at: now}
	return ""
}

// expire says which awaited replies did not come within the reply wait, and forgets the
// replies kept for requests that did not come.
func (sp *spy) expire(now time.Time) {
	for subject, e := range sp.early {
		if now.Sub(e.at) >= spyEarlyKeep {
			sp.dropEarly(subject)
		}
	}
	for subject, call := range sp.pending {
		if now.Sub(call.at) < sp.replyWait {
			continue
		}
		delete(sp.pending, subject)
		if sp.out == outputJSON {
			sp.emit(map[string]any{"time": stamp(now), "event": "no_reply", "id": call.id, "operation": call.operation,
				"waited_ms": now.Sub(call.at).Milliseconds()})
			continue
		}
		sp.printf("%s  %s: no reply seen within %s (the caller gave up, or it went where this spy does not see)\n",
			clock(now), call.operation, sp.replyWait)
	}
}

func (sp *spy) invocation(inv *lattice.Invocation, in bool, note string, now time.Time) {
	size, chunked := payloadSize(inv.Msg, inv.ContentLength)
	payload, perr := decodePayload(inv.Msg, chunked)
	if sp.out == outputJSON {
		ev := map[string]any{"time": stamp(now), "event": "invocation", "direction": map[bool]string{true: "in", false: "out"}[in],
			"id": inv.ID, "operation": inv.Operation, "origin": inv.Origin, "target": inv.Target, "host_id": inv.HostID,
			"size": size, "chunked": chunked, "payload": payload}
		if perr != "" {
			ev["payload_error"] = perr
		}
		if note != "" {
			ev["note"] = note
		}
		sp.emit(ev)
		return
	}
	arrow, peer := "<-", inv.Origin
	if !in {
		arrow, peer = "->", inv.Target
	}
	sp.printf("%s  %s %s %s  %s  id %s\n", clock(now), inv.Operation, arrow, describeEntity(peer), sizeText(size, chunked), inv.ID)
	sp.payloadLine(payload, perr)
	if note != "" {
		sp.printf("              (%s)\n", note)
	}
}

func (sp *spy) reply(call spiedCall, data []byte, now time.Time) {
	took := now.Sub(call.at)
	resp, err := lattice.DecodeInvocationResponse(data)
	if err != nil {
		if sp.out == outputJSON {
			sp.emit(map[string]any{"time": stamp(now), "event": "reply", "id": call.id, "operation": call.operation,
				"size": len(data), "reply_error": "not an invocation response: " + err.Error(), "elapsed_ms": ms(took)})
			return
		}
		sp.printf("%s  %s reply: not an invocation response (%d bytes): %v\n", clock(now), call.operation, len(data), err)
		return
	}
	size, chunked := payloadSize(resp.Msg, resp.ContentLength)
	payload, perr := decodePayload(resp.Msg, chunked)
	if resp.Error != "" {
		payload, perr = nil, "" // an error reply carries no payload to read
	}
	if sp.out == outputJSON {
		ev := map[string]any{"time": stamp(now), "event": "reply", "id": call.id, "operation": call.operation,
			"size": size, "chunked": chunked, "payload": payload, "error": resp.Error, "elapsed_ms": ms(took)}
		if perr != "" {
			ev["payload_error"] = perr
		}
		sp.emit(ev)
		return
	}
	if resp.Error != "" {
		sp.printf("%s  %s reply: error %q after %s\n", clock(now), call.operation, resp.Error, roundDuration(took))
		return
	}
	sp.printf("%s  %s reply  %s after %s\n", clock(now), call.operation, sizeText(size, chunked), roundDuration(took))
	sp.payloadLine(payload, perr)
}

func (sp *spy) undecodable(m *nats.Msg, err error, now time.Time) {
	if sp.out == outputJSON {
		sp.emit(map[string]any{"time": stamp(now), "event": "undecodable", "subject": m.Subject, "size": len(m.Data), "error": err.Error()})
		return
	}
	sp.printf("%s  a message of %d bytes on %s that is not an invocation: %v\n", clock(now), len(m.Data), m.Subject, err)
}

func (sp *spy) payloadLine(payload any, perr string) {
	switch {
	case perr != "":
		sp.printf("              payload %s\n", perr)
	case payload != nil:
		b, err := marshalCompact(payload)
		if err != nil {
			sp.printf("              payload: %v\n", err)
			return
		}
		sp.printf("              %s\n", b)
	}
}

// payloadSize is the size of a payload, carried inline or chunked through the object store.
func payloadSize(msg []byte, contentLength *uint64) (uint64, bool) {
	if len(msg) == 0 && contentLength != nil && *contentLength > 0 {
		return *contentLength, true
	}
	return uint64(len(msg)), false
}

// decodePayload decodes a msgpack payload for display; the second result says why it is not
// shown.
func decodePayload(msg []byte, chunked bool) (any, string) {
	switch {
	case chunked:
		return nil, "chunked through the object store (not fetched)"
	case len(msg) == 0:
		return nil, ""
	}
	v, err := msgpackToJSON(msg)
	if err != nil {
		raw, _ := formatScalar(binValue(msg))
		if len(raw) > 200 {
			raw = raw[:200] + "…"
		}
		return nil, fmt.Sprintf("%v; raw: %s", err, raw)
	}
	return v, ""
}

func describeEntity(e lattice.Entity) string {
	if e.ContractID == "" && e.LinkName == "" {
		return e.PublicKey
	}
	return fmt.Sprintf("%s (%s, link %s)", e.PublicKey, orNone(e.ContractID), orText(e.LinkName, lattice.DefaultLinkName))
}

func sizeText(n uint64, chunked bool) string {
	s := humanBytes(int64(n))
	if chunked {
		s += " chunked"
	}
	return s
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func roundDuration(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
