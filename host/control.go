package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trellis-lattice/trellis/lattice"
)

// subscribeControl subscribes to every control subject this host serves (PROTOCOL.md §4).
func (h *Host) subscribeControl() ([]*nats.Subscription, error) {
	s := h.subj
	type entry struct {
		subject, queue string
		handle         func(*nats.Msg)
	}
	entries := []entry{
		{s.PingHosts(), "", h.handlePing},
		{s.Inventory(h.ID()), "", h.handleInventory},
		{s.GetClaims(), s.QueueGroup(), h.handleGetClaims},
		{s.GetLinks(), s.QueueGroup(), h.handleGetLinks},
		{s.LinkPut(), s.QueueGroup(), h.handleLinkPut},
		{s.LinkDel(), s.QueueGroup(), h.handleLinkDel},
		{s.Command(h.ID(), "*"), "", h.handleCommand},
		{s.AuctionActor(), "", h.handleAuctionActor},
		{s.AuctionProvider(), "", h.handleAuctionProvider},
		{s.RegistriesPut(), "", h.handleRegistriesPut},
	}
	var subs []*nats.Subscription
	for _, e := range entries {
		var sub *nats.Subscription
		var err error
		handle := h.limitControl(e.handle)
		if e.queue != "" {
			sub, err = h.nc.QueueSubscribe(e.subject, e.queue, handle)
		} else {
			sub, err = h.nc.Subscribe(e.subject, handle)
		}
		if err != nil {
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return nil, fmt.Errorf("subscribe %s: %w", e.subject, err)
		}
		subs = append(subs, sub)
	}
	return subs, nil
}

// reply answers a request with JSON.
func (h *Host) reply(m *nats.Msg, v any) {
	h.countControl(m.Subject, v)
	if m.Reply == "" {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error().Err(err).Str("subject", m.Subject).Msg("encode reply")
		return
	}
	if max := h.nc.MaxPayload(); int64(len(b)) > max {
		// Said to the client instead of leaving it to time out.
		err := fmt.Errorf("%s: reply of %d bytes is over the NATS server's max payload of %d bytes", m.Subject, len(b), max)
		h.log.Warn().Err(err).Msg("reply refused")
		b, _ = json.Marshal(lattice.Ack{Accepted: false, Error: err.Error()})
	}
	if err := m.Respond(b); err != nil {
		h.log.Debug().Err(err).Str("subject", m.Subject).Msg("reply")
	}
}

func (h *Host) ack(m *nats.Msg, err error) {
	if err != nil {
		h.log.Warn().Err(err).Str("subject", m.Subject).Msg("control command refused")
		h.reply(m, lattice.Ack{Accepted: false, Error: err.Error()})
		return
	}
	h.reply(m, lattice.Ack{Accepted: true})
}

// decode parses a control payload strictly enough to name what is wrong.
func decode(m *nats.Msg, v any) error {
	if len(m.Data) == 0 {
		return fmt.Errorf("%s: empty payload, want JSON", m.Subject)
	}
	if err := json.Unmarshal(m.Data, v); err != nil {
		return fmt.Errorf("%s: malformed JSON: %w", m.Subject, err)
	}
	return nil
}

func (h *Host) hostInfo() lattice.Host {
	up := time.Since(h.started)
	return lattice.Host{
		ID: h.ID(), Issuer: h.cluster.PublicKey(), Labels: h.cfg.Labels, FriendlyName: h.friendlyName(),
		UptimeSeconds: uint64(up.Seconds()), UptimeHuman: humanDuration(up), Version: h.cfg.Version,
		ClusterIssuers: strings.Join(h.issuers, ","), JSDomain: h.cfg.JSDomain,
		CtlHost: h.NATSURL(), ProvRPCHost: h.NATSURL(), RPCHost: h.NATSURL(), LatticePrefix: h.cfg.Lattice,
	}
}

func (h *Host) handlePing(m *nats.Msg) {
	h.reply(m, h.hostInfo())
	h.heartbeat()
}

func (h *Host) inventory() lattice.HostInventory {
	inv := lattice.HostInventory{HostID: h.ID(), Issuer: h.cluster.PublicKey(), Labels: h.cfg.Labels,
		FriendlyName: h.friendlyName(), Actors: []lattice.ActorDescription{}, Providers: h.providerInventory()}
	for _, a := range h.actors.all() {
		d := lattice.ActorDescription{
			ID: a.id, ImageRef: a.ref(), Name: a.claims().Actor.Name, Instances: a.instances(),
		}
		d.InstancesInUse, d.InstancesIdle, d.MaxInstances = a.instanceStats()
		_, d.MinInstances = a.poolLimits()
		inv.Actors = append(inv.Actors, d)
	}
	return inv
}

func (h *Host) handleInventory(m *nats.Msg) { h.reply(m, h.inventory()) }

func (h *Host) handleGetClaims(m *nats.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	claims, err := h.store.Claims(ctx)
	if err != nil {
		h.log.Warn().Err(err).Msg("get claims")
	}
	if claims == nil {
		claims = []map[string]string{}
	}
	claims = h.withImageRefs(ctx, claims)
	slices.SortFunc(claims, func(a, b map[string]string) int { return strings.Compare(a["sub"], b["sub"]) })
	h.respondPage(m, "get claims", func(after string, max int) ([]byte, error) { return pageClaims(claims, after, max) })
}

// handleGetLinks answers get.links with every link when they fit in one NATS message, else with
// a page of them (pageLinks); a request may carry a PageQuery for a later page.
func (h *Host) handleGetLinks(m *nats.Msg) {
	links := h.links.links()
	h.respondPage(m, "get links", func(after string, max int) ([]byte, error) { return pageLinks(links, after, max) })
}

func (h *Host) handleLinkPut(m *nats.Msg) {
	var l lattice.LinkDefinition
	if err := decode(m, &l); err != nil {
		h.ack(m, err)
		return
	}
	l.Status = ""
	l.Normalize()
	if err := l.Validate(); err != nil {
		h.ack(m, err)
		return
	}
	if err := h.checkLinkSize(l); err != nil {
		h.ack(m, err)
		return
	}
	if err := h.checkLinkCount(l); err != nil {
		h.ack(m, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.store.PutLink(ctx, l); err != nil {
		h.ack(m, fmt.Errorf("store link %s: %w", l.ID, err))
		return
	}
	h.ack(m, nil)
}

func (h *Host) handleLinkDel(m *nats.Msg) {
	var d lattice.LinkDelete
	if err := decode(m, &d); err != nil {
		h.ack(m, err)
		return
	}
	if err := lattice.CheckPublicKey(lattice.PrefixModule, d.ActorID); err != nil {
		h.ack(m, fmt.Errorf("link delete actor_id: %w", err))
		return
	}
	if d.ContractID == "" {
		h.ack(m, errors.New("link delete contract_id: empty"))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.store.DeleteLink(ctx, d.ActorID, d.ContractID, d.LinkName); err != nil {
		h.ack(m, err)
		return
	}
	h.ack(m, nil)
}

// handleCommand serves cmd.{H}.*: it acks at once and does the work in the background; the
// outcome is an event.
func (h *Host) handleCommand(m *nats.Msg) {
	cmd := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	switch cmd {
	case lattice.CmdLaunchActor:
		var c lattice.StartActorCommand
		if err := decode(m, &c); err != nil {
			h.ack(m, err)
			return
		}
		if strings.TrimSpace(c.ActorRef) == "" {
			h.ack(m, errors.New("launch actor: actor_ref is empty"))
			return
		}
		h.ack(m, nil)
		h.background(func(ctx context.Context) {
			if _, err := h.startActor(ctx, c.ActorRef, int(c.Count), c.Annotations, uint16Limits(c.MinInstances, c.MaxInstances)); err != nil {
				h.publish(lattice.EventActorStartFailed, lattice.ActorStartFailedData{ActorRef: c.ActorRef, Error: err.Error()})
			}
		})
	case lattice.CmdStopActor:
		var c lattice.StopActorCommand
		if err := decode(m, &c); err != nil {
			h.ack(m, err)
			return
		}
		a, ok := h.actors.get(c.ActorRef)
		if !ok {
			h.ack(m, fmt.Errorf("stop actor %s: %w", c.ActorRef, errNotRunning))
			return
		}
		h.ack(m, nil)
		h.background(func(context.Context) {
			h.lifecycle.Lock()
			defer h.lifecycle.Unlock()
			h.stopActor(a, int(c.Count), c.Annotations)
		})
	case lattice.CmdScaleActor:
		var c lattice.ScaleActorCommand
		if err := decode(m, &c); err != nil {
			h.ack(m, err)
			return
		}
		if err := lattice.CheckPublicKey(lattice.PrefixModule, c.ActorID); err != nil {
			h.ack(m, fmt.Errorf("scale actor_id: %w", err))
			return
		}
		h.ack(m, nil)
		h.background(func(ctx context.Context) {
			if err := h.scaleActor(ctx, c.ActorID, c.ActorRef, int(c.Count), c.Annotations, uint16Limits(c.MinInstances, c.MaxInstances)); err != nil {
				h.publish(lattice.EventActorStartFailed, lattice.ActorStartFailedData{ActorRef: orStr(c.ActorRef, c.ActorID), Error: err.Error()})
			}
		})
	case lattice.CmdUpdateActor:
		var c lattice.UpdateActorCommand
		if err := decode(m, &c); err != nil {
			h.ack(m, err)
			return
		}
		if err := lattice.CheckPublicKey(lattice.PrefixModule, c.ActorID); err != nil {
			h.ack(m, fmt.Errorf("update actor_id: %w", err))
			return
		}
		if strings.TrimSpace(c.NewActorRef) == "" {
			h.ack(m, fmt.Errorf("update actor %s: new_actor_ref is empty", c.ActorID))
			return
		}
		if _, ok := h.actors.get(c.ActorID); !ok {
			h.ack(m, fmt.Errorf("update actor %s: %w", c.ActorID, errNotRunning))
			return
		}
		h.ack(m, nil)
		h.background(func(ctx context.Context) {
			if rev, err := h.updateActor(ctx, c.ActorID, c.NewActorRef); err != nil {
				h.publish(lattice.EventActorUpdateFailed, lattice.ActorUpdateFailedData{
					PublicKey: c.ActorID, Revision: rev, ImageRef: c.NewActorRef, Reason: err.Error(),
				})
			}
		})
	case lattice.CmdLaunchProvider:
		var c lattice.StartProviderCommand
		if err := decode(m, &c); err != nil {
			h.ack(m, err)
			return
		}
		h.ack(m, h.launchProvider(c))
	case lattice.CmdStopProvider:
		var c lattice.StopProviderCommand
		if err := decode(m, &c); err != nil {
			h.ack(m, err)
			return
		}
		h.ack(m, h.stopProviderCommand(c))
	case lattice.CmdStopHost:
		var c lattice.StopHostCommand
		if len(m.Data) > 0 {
			if err := decode(m, &c); err != nil {
				h.ack(m, err)
				return
			}
		}
		h.ack(m, nil)
		go h.Stop()
	default:
		h.ack(m, fmt.Errorf("unknown host command %q on %s", cmd, m.Subject))
	}
}

// background runs f for a command after its ack, under Run's context (bounded to five minutes):
// when the host stops, f is told to stop, and Run waits for it to return.
func (h *Host) background(f func(ctx context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(h.work, 5*time.Minute)
		defer cancel()
		f(ctx)
	}()
}

func (h *Host) handleAuctionActor(m *nats.Msg) {
	var r lattice.ActorAuctionRequest
	if err := decode(m, &r); err != nil {
		h.log.Debug().Err(err).Msg("actor auction")
		return
	}
	if !labelsMatch(h.cfg.Labels, r.Constraints) {
		return
	}
	h.reply(m, lattice.ActorAuctionAck{ActorRef: r.ActorRef, Constraints: r.Constraints, HostID: h.ID()})
}

func (h *Host) handleAuctionProvider(m *nats.Msg) {
	var r lattice.ProviderAuctionRequest
	if err := decode(m, &r); err != nil {
		h.log.Debug().Err(err).Msg("provider auction")
		return
	}
	if !labelsMatch(h.cfg.Labels, r.Constraints) || h.runsProvider(r.ProviderRef, r.LinkName) || !h.offersProvider(r.ProviderRef) {
		return
	}
	h.reply(m, lattice.ProviderAuctionAck{ProviderRef: r.ProviderRef, LinkName: r.LinkName, Constraints: r.Constraints, HostID: h.ID()})
}

func labelsMatch(labels, constraints map[string]string) bool {
	for k, v := range constraints {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func orStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
