package lattice

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// GetHosts pings every host of the lattice and returns their answers sorted by id; no host is an
// empty list, not an error.
//
// Hosts answer ping.hosts all at once, so waiting the whole timeout (as wash does) mostly waits for
// nothing: GetHosts returns once HostsQuietPeriod has passed without a new reply after the first
// one, and at the latest after Timeout (or the context's deadline, if sooner). A host slower than
// the quiet period behind the others can be missed; a negative HostsQuietPeriod waits the whole
// Timeout.
func (c *Client) GetHosts(ctx context.Context) ([]Host, error) {
	subject := c.subj.PingHosts()
	byID := map[string]Host{}
	err := c.gather(ctx, "get hosts", subject, nil, c.cfg.Timeout, c.cfg.HostsQuietPeriod, func(data []byte) error {
		var h Host
		if err := json.Unmarshal(data, &h); err != nil {
			return fmt.Errorf("host reply: %w", err)
		}
		if h.ID == "" {
			return errors.New("host reply without an id")
		}
		byID[h.ID] = h
		return nil
	})
	if err != nil {
		return nil, err
	}
	hosts := slices.AppendSeq(make([]Host, 0, len(byID)), maps.Values(byID))
	slices.SortFunc(hosts, func(a, b Host) int { return cmp.Compare(a.ID, b.ID) })
	return hosts, nil
}

// GetInventory asks one host what it runs.
func (c *Client) GetInventory(ctx context.Context, hostID string) (*HostInventory, error) {
	op := "get inventory of host " + hostID
	if err := checkHostID("get inventory", hostID); err != nil {
		return nil, err
	}
	var inv HostInventory
	if err := c.query(ctx, op, c.subj.Inventory(hostID), hostID, &inv); err != nil {
		return nil, err
	}
	if inv.Actors == nil {
		inv.Actors = []ActorDescription{}
	}
	if inv.Providers == nil {
		inv.Providers = []ProviderDescription{}
	}
	return &inv, nil
}

// GetClaims returns the claims of every actor and provider the lattice knows (one host answers).
// Claims that do not fit in one NATS message are read page by page, as GetLinks does.
func (c *Client) GetClaims(ctx context.Context) ([]map[string]string, error) {
	claims := []map[string]string{}
	err := pages(ctx, c, "get claims", c.subj.GetClaims(), func(data []byte) (string, error) {
		var page ClaimsList
		if err := json.Unmarshal(data, &page); err != nil {
			return "", err
		}
		claims = append(claims, page.Claims...)
		return page.Next, nil
	})
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// PageQuery is the body of a get.links or get.claims request for a later page of a paged reply
// (a Trellis extension; an empty body asks for the first page, as a wasmCloud 0.x client does):
// the items whose ids (a link's id, the claims' sub) sort after After.
type PageQuery struct {
	After string `json:"after"`
}

// GetLinks returns every link of the lattice (one host answers each request). Trellis hosts set
// Status. When the links do not fit in one NATS message, the host pages its reply
// (LinkList.Next) and GetLinks asks for every page in turn; a link put or deleted meanwhile may
// be missed, none is listed twice.
func (c *Client) GetLinks(ctx context.Context) ([]LinkDefinition, error) {
	links := []LinkDefinition{}
	err := pages(ctx, c, "get links", c.subj.GetLinks(), func(data []byte) (string, error) {
		var page LinkList
		if err := json.Unmarshal(data, &page); err != nil {
			return "", err
		}
		links = append(links, page.Links...)
		return page.Next, nil
	})
	if err != nil {
		return nil, err
	}
	return links, nil
}

// pages asks subject for every page of a paged query reply: take decodes one page and returns its
// next, "" on the last.
func pages(ctx context.Context, c *Client, op, subject string, take func([]byte) (string, error)) error {
	after := ""
	for {
		var q any // the first request has no body
		if after != "" {
			q = PageQuery{After: after}
		}
		data, err := c.request(ctx, op, subject, "", q)
		if err != nil {
			return err
		}
		var ack struct {
			Accepted *bool  `json:"accepted"`
			Error    string `json:"error"`
		}
		if json.Unmarshal(data, &ack) == nil && ack.Accepted != nil && !*ack.Accepted {
			return fmt.Errorf("%s: %s", op, ack.Error)
		}
		next, err := take(data)
		if err != nil {
			return fmt.Errorf("%s: malformed reply on %s: %w", op, subject, err)
		}
		if next == "" {
			return nil
		}
		if next <= after {
			return fmt.Errorf("%s: reply on %s names %s as the end of a page after %s", op, subject, next, after)
		}
		after = next
	}
}

// AuctionActor asks which hosts could run an actor: those whose labels contain the constraints
// answer. It collects answers for the whole AuctionTimeout (or until the context's deadline, if
// sooner) and returns them sorted by host id; no answer is an empty list, not an error.
func (c *Client) AuctionActor(ctx context.Context, req ActorAuctionRequest) ([]ActorAuctionAck, error) {
	if req.ActorRef == "" {
		return nil, fmt.Errorf("auction actor: actor_ref is empty")
	}
	if req.Constraints == nil {
		req.Constraints = map[string]string{}
	}
	return auction(ctx, c, "auction actor "+req.ActorRef, c.subj.AuctionActor(), req,
		func(a ActorAuctionAck) string { return a.HostID })
}

// AuctionProvider asks which hosts could run a provider with a link name: those whose labels
// contain the constraints and that do not run it already answer. It collects answers like
// AuctionActor.
func (c *Client) AuctionProvider(ctx context.Context, req ProviderAuctionRequest) ([]ProviderAuctionAck, error) {
	if req.ProviderRef == "" {
		return nil, fmt.Errorf("auction provider: provider_ref is empty")
	}
	req.LinkName = orDefault(req.LinkName, DefaultLinkName)
	if req.Constraints == nil {
		req.Constraints = map[string]string{}
	}
	return auction(ctx, c, "auction provider "+req.ProviderRef, c.subj.AuctionProvider(), req,
		func(a ProviderAuctionAck) string { return a.HostID })
}

// auction gathers the bids to req for AuctionTimeout, sorted by the host id of each.
func auction[Ack any](ctx context.Context, c *Client, op, subject string, req any, hostID func(Ack) string) ([]Ack, error) {
	acks := []Ack{}
	err := c.gather(ctx, op, subject, req, c.cfg.AuctionTimeout, 0, func(data []byte) error {
		var a Ack
		if err := json.Unmarshal(data, &a); err != nil {
			return fmt.Errorf("auction reply: %w", err)
		}
		if hostID(a) == "" {
			return errors.New("auction reply without a host id")
		}
		acks = append(acks, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(acks, func(a, b Ack) int { return cmp.Compare(hostID(a), hostID(b)) })
	return acks, nil
}
