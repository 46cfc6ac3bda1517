package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"

	"github.com/trellis-lattice/trellis/lattice"
)

// Defaults of the host's limits (Config).
const (
	DefaultMaxInvocationBytes = lattice.DefaultMaxInvocationBytes
	DefaultMaxControlBytes    = 256 << 10 // 256 KiB
	DefaultMaxLinkValueBytes  = 32 << 10  // 32 KiB
	DefaultMaxLinkBytes       = 64 << 10  // 64 KiB
	DefaultMaxLinks           = 20000
)

// ErrLimit is wrapped by every refusal of something over one of the host's limits.
var ErrLimit = errors.New("over the limit")

func (c *Config) validateLimits() []error {
	var errs []error
	if c.MaxActorMemoryPages == 0 || c.MaxActorMemoryPages > MaxWasmPages {
		errs = append(errs, fmt.Errorf("max actor memory pages %d: want 1 to %d (64 KiB pages)", c.MaxActorMemoryPages, MaxWasmPages))
	}
	if c.MaxInvocationBytes <= 0 {
		errs = append(errs, errors.New("max invocation bytes: must be positive"))
	}
	if c.MaxControlBytes <= 0 {
		errs = append(errs, errors.New("max control bytes: must be positive"))
	}
	if c.MaxLinkValueBytes <= 0 || c.MaxLinkBytes <= 0 {
		errs = append(errs, errors.New("max link value bytes and max link bytes: must be positive"))
	}
	if c.MaxLinks <= 0 {
		errs = append(errs, errors.New("max links: must be positive"))
	}
	return errs
}

// checkPayload refuses an invocation payload of size bytes over MaxInvocationBytes.
func (h *Host) checkPayload(what string, size uint64) error {
	return lattice.CheckPayload(what, size, h.cfg.MaxInvocationBytes, "--max-invocation-bytes")
}

// limitControl wraps a control subject's handler so that a request over MaxControlBytes is
// refused (acked with an error when it has a reply subject) without being decoded.
func (h *Host) limitControl(handle func(*nats.Msg)) func(*nats.Msg) {
	return func(m *nats.Msg) {
		if limit := h.cfg.MaxControlBytes; len(m.Data) > limit {
			h.ack(m, fmt.Errorf("%s: request of %d bytes is %w of %d bytes that this host reads (--max-control-bytes)", m.Subject, len(m.Data), ErrLimit, limit))
			return
		}
		handle(m)
	}
}

// checkLinkSize refuses a link whose values pass MaxLinkValueBytes (one key and its value) or
// MaxLinkBytes (all of them).
func (h *Host) checkLinkSize(l lattice.LinkDefinition) error {
	total := 0
	keys := make([]string, 0, len(l.Values))
	for k := range l.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		n := len(k) + len(l.Values[k])
		if n > h.cfg.MaxLinkValueBytes {
			return fmt.Errorf("link %s: value %q of %d bytes (key and value) is %w of %d bytes per value (--max-link-value-bytes)", l.ID, k, n, ErrLimit, h.cfg.MaxLinkValueBytes)
		}
		total += n
	}
	if total > h.cfg.MaxLinkBytes {
		return fmt.Errorf("link %s: values of %d bytes are %w of %d bytes per link (--max-link-bytes)", l.ID, total, ErrLimit, h.cfg.MaxLinkBytes)
	}
	return nil
}

// checkLinkCount refuses a new link when the lattice holds MaxLinks already; a link put again
// (same actor, contract and link name) is not new. The count is this host's view of the bucket,
// which follows it within moments: puts that race each other may pass the limit by their number.
func (h *Host) checkLinkCount(l lattice.LinkDefinition) error {
	n, known := h.links.count(l.ID)
	if !known && n >= h.cfg.MaxLinks {
		return fmt.Errorf("link %s: the lattice has %d links, the most this host puts (--max-links): %w", l.ID, n, ErrLimit)
	}
	return nil
}

// pageLinks encodes the get.links reply for the links (sorted by id) whose ids sort after after,
// in at most max bytes (page).
func pageLinks(links []lattice.LinkDefinition, after string, max int) ([]byte, error) {
	return page("links", links, func(l lattice.LinkDefinition) string { return l.ID }, after, max)
}

// pageClaims encodes the get.claims reply for the claims (sorted by sub) whose subjects sort
// after after, in at most max bytes (page).
func pageClaims(claims []map[string]string, after string, max int) ([]byte, error) {
	return page("claims", claims, func(c map[string]string) string { return c["sub"] }, after, max)
}

// page encodes a paged query reply {"<field>": [items…]} of the items (sorted by id) whose ids
// sort after after, in at most max bytes: all of them when they fit (the wasmCloud 0.x reply),
// else as many as fit with "next" (the id of the page's last item, when more follow) and "total".
// An item that does not fit on its own has its longest strings cut (lattice.CutJSON) rather than
// being left out.
func page[T any](field string, items []T, id func(T) string, after string, max int) ([]byte, error) {
	start, _ := slices.BinarySearchFunc(items, after, func(it T, after string) int {
		if id(it) <= after {
			return -1
		}
		return 1
	})
	// {"<field>":[…],"next":"…","total":N}: room for the envelope, an id and a number.
	room := max - len(`{"":[],"next":"","total":}`) - len(field) - 20
	var body []byte
	n, last := 0, ""
	for _, it := range items[start:] {
		room := room - len(id(it))
		b, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		if len(b) > room {
			if n > 0 {
				break // on a page of its own
			}
			if b, _, err = lattice.CutJSON(it, room); err != nil {
				return nil, fmt.Errorf("%s %s: %w", field, id(it), err)
			}
		}
		if len(body)+len(b)+1 > room {
			break
		}
		if n > 0 {
			body = append(body, ',')
		}
		body = append(body, b...)
		n, last = n+1, id(it)
	}
	out := fmt.Appendf(nil, `{"%s":[`, field)
	out = append(out, body...)
	out = append(out, ']')
	if start > 0 || start+n < len(items) {
		if start+n < len(items) {
			next, err := json.Marshal(last)
			if err != nil {
				return nil, err
			}
			out = fmt.Appendf(out, `,"next":%s`, next)
		}
		out = fmt.Appendf(out, `,"total":%d`, len(items))
	}
	return append(out, '}'), nil
}

// respondPage answers a paged query (get.links, get.claims): its request may carry a PageQuery.
func (h *Host) respondPage(m *nats.Msg, what string, encode func(after string, max int) ([]byte, error)) {
	var q lattice.PageQuery
	if len(m.Data) > 0 {
		if err := decode(m, &q); err != nil {
			h.ack(m, err)
			return
		}
	}
	b, err := encode(q.After, int(h.nc.MaxPayload()))
	if err != nil {
		h.ack(m, fmt.Errorf("%s: %w", what, err))
		return
	}
	if m.Reply == "" {
		return
	}
	if err := m.Respond(b); err != nil {
		h.log.Debug().Err(err).Str("subject", m.Subject).Msg("reply")
	}
}

// count reports how many links the cache holds, applied or rejected, and whether it holds id.
func (c *linkCache) count(id string) (int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.byID[id]
	return len(c.byID), ok
}
