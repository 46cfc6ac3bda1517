package host

import (
	"fmt"
	"time"

	"github.com/trellis-lattice/trellis/lattice"
)

// publish sends a CloudEvent from this host on wasmbus.evt.{L}.
func (h *Host) publish(name string, data any) {
	ev, err := lattice.NewEvent(name, h.ID(), data)
	if err != nil {
		h.log.Error().Err(err).Msg("build event")
		return
	}
	// An event over NATS's max payload is cut (its longest strings shortened, with a marker), not
	// lost.
	raw, cut, err := lattice.CutJSON(ev, int(h.nc.MaxPayload()))
	if err != nil {
		h.log.Error().Err(err).Str("event", name).Msg("encode event")
		return
	}
	if cut {
		h.log.Warn().Str("event", name).Int64("max_payload", h.nc.MaxPayload()).Msg("event cut to NATS's max payload")
	}
	if err := h.nc.Publish(h.subj.Events(), raw); err != nil {
		h.log.Warn().Err(err).Str("event", name).Msg("publish event")
	}
}

// heartbeat publishes host_heartbeat with what runs here.
func (h *Host) heartbeat() {
	actors := map[string]int{}
	for _, a := range h.actors.all() {
		actors[a.id] = len(a.instances())
	}
	up := time.Since(h.started)
	h.publish(lattice.EventHostHeartbeat, lattice.HostHeartbeatData{
		Actors:        actors,
		Providers:     h.heartbeatProviders(),
		Labels:        h.cfg.Labels,
		FriendlyName:  h.friendlyName(),
		Version:       h.cfg.Version,
		UptimeSeconds: uint64(up.Seconds()),
		UptimeHuman:   humanDuration(up),
	})
}

// humanDuration renders an uptime like "1d 2h 3m 4s".
func humanDuration(d time.Duration) string {
	s := int64(d.Seconds())
	days, s := s/86400, s%86400
	hours, s := s/3600, s%3600
	mins, s := s/60, s%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm %ds", days, hours, mins, s)
	case hours > 0:
		return fmt.Sprintf("%dh %dm %ds", hours, mins, s)
	case mins > 0:
		return fmt.Sprintf("%dm %ds", mins, s)
	}
	return fmt.Sprintf("%ds", s)
}
