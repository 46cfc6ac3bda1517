package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/trellis-lattice/trellis/lattice"
)

// result is the JSON of a command's answer. Status is "done" when the outcome event came, or
// "pending" (HTTP 202) when the host accepted the command but reported nothing within
// CommandTimeout.
type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	HostID  string `json:"host_id,omitempty"`
	ID      string `json:"id,omitempty"`
	Event   string `json:"event,omitempty"`
	// Version is the app version an app command deployed (or undeployed).
	Version string `json:"version,omitempty"`
	// Revision is the actor's revision after an update.
	Revision *int `json:"revision,omitempty"`
	// Warnings say what may keep a command that was carried out from working.
	Warnings []string `json:"warnings,omitempty"`
}

// run sends a command and waits for the first event that match accepts. It returns the event and
// true, or false when none came within CommandTimeout. wait=false skips waiting.
func (d *Dashboard) run(ctx context.Context, match func(lattice.CloudEvent) bool, send func() error, wait bool) (lattice.CloudEvent, bool, *apiError) {
	var w *lattice.Waiter
	if wait {
		var err error
		if w, err = d.client.NewWaiter(match); err != nil {
			return lattice.CloudEvent{}, false, &apiError{Status: http.StatusBadGateway, Msg: err.Error()}
		}
		defer w.Stop() //nolint:errcheck // done with the events either way
	}
	if err := send(); err != nil {
		return lattice.CloudEvent{}, false, sendError(err)
	}
	if !wait {
		return lattice.CloudEvent{}, false, nil
	}
	wctx, cancel := context.WithTimeout(ctx, d.cfg.CommandTimeout)
	defer cancel()
	ev, err := w.Wait(wctx)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return lattice.CloudEvent{}, false, &apiError{Status: 499, Msg: "request canceled"}
	case errors.Is(err, lattice.ErrWaiterStopped):
		return lattice.CloudEvent{}, false, &apiError{Status: http.StatusBadGateway,
			Msg: "the command was accepted, but the connection to the lattice ended before its outcome came: " + err.Error()}
	default:
		return lattice.CloudEvent{}, false, nil // accepted, outcome not known yet
	}
	return ev, true, nil
}

// sendError answers the error of sending a command.
func sendError(err error) *apiError {
	var refused *lattice.RefusedError
	switch {
	case errors.As(err, &refused):
		return &apiError{Status: http.StatusConflict, Msg: "refused by the host: " + refused.Reason}
	case errors.Is(err, lattice.ErrNoHost):
		return &apiError{Status: http.StatusServiceUnavailable, Msg: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: http.StatusGatewayTimeout, Msg: err.Error()}
	}
	return &apiError{Status: http.StatusBadGateway, Msg: err.Error()}
}

// pending answers a command the host accepted but has not finished within CommandTimeout.
func (d *Dashboard) pending(w http.ResponseWriter, host, what string) {
	who := "the lattice"
	if host != "" {
		who = "host " + d.hostName(host)
	}
	writeJSON(w, http.StatusAccepted, result{
		Status: "pending", HostID: host,
		Message: fmt.Sprintf("%s accepted to %s; no outcome within %s yet (watch the event log)", who, what, d.cfg.CommandTimeout),
	})
}

// hostName is a host's friendly name, else its shortened id.
func (d *Dashboard) hostName(id string) string {
	d.state.mu.Lock()
	defer d.state.mu.Unlock()
	if e, ok := d.state.hosts[id]; ok && e.info.FriendlyName != "" {
		return e.info.FriendlyName
	}
	return shortKey(id)
}

// nameOf is the name an actor's or provider's claims give it, else its shortened key.
func (d *Dashboard) nameOf(id string) string {
	d.state.mu.Lock()
	defer d.state.mu.Unlock()
	if n := d.state.claims[id]["name"]; n != "" {
		return n
	}
	return shortKey(id)
}

func shortKey(k string) string {
	if len(k) > 12 {
		return k[:6] + "…" + k[len(k)-4:]
	}
	return k
}

// auction picks a host for a start: the least busy of those that answered the auction.
func (d *Dashboard) auction(ctx context.Context, what, ref string, ask func(context.Context) ([]string, error), constraints map[string]string) (string, *apiError) {
	actx, cancel := context.WithTimeout(ctx, d.cfg.AuctionTimeout)
	defer cancel()
	hosts, err := ask(actx)
	if err != nil {
		return "", &apiError{Status: http.StatusBadGateway, Msg: err.Error()}
	}
	if len(hosts) == 0 {
		msg := fmt.Sprintf("host_id: no host answered the auction to %s %s", what, ref)
		if len(constraints) > 0 {
			keys := make([]string, 0, len(constraints))
			for k, v := range constraints {
				keys = append(keys, k+"="+v)
			}
			sort.Strings(keys)
			msg += " with constraints " + strings.Join(keys, ", ")
		}
		return "", &apiError{Status: http.StatusConflict, Field: "host_id", Msg: msg}
	}
	best, bestLoad := "", -1
	for _, h := range hosts { // sorted by id
		if l := d.state.load(h); bestLoad < 0 || l < bestLoad {
			best, bestLoad = h, l
		}
	}
	return best, nil
}

// runsOn returns the hosts whose inventory has what match accepts.
func (d *Dashboard) runsOn(match func(e *hostEntry) bool) []string {
	d.state.mu.Lock()
	defer d.state.mu.Unlock()
	var out []string
	for id, e := range d.state.hosts {
		if e.inv != nil && match(e) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// hostsFor are the hosts a command on something running is for: the one given, else every host
// running it.
func (d *Dashboard) hostsFor(hostID, what string, match func(e *hostEntry) bool) ([]string, *apiError) {
	if hostID != "" {
		return []string{hostID}, optionalKey("host_id", lattice.PrefixServer, hostID)
	}
	hosts := d.runsOn(match)
	if len(hosts) == 0 {
		return nil, &apiError{Status: http.StatusNotFound, Field: "host_id", Msg: fmt.Sprintf("host_id: no host runs %s", what)}
	}
	return hosts, nil
}

// chooseHost is the host a command on something running is for: the one given, else the only
// host running it.
func (d *Dashboard) chooseHost(hostID, what string, match func(e *hostEntry) bool) (string, *apiError) {
	hosts, e := d.hostsFor(hostID, what, match)
	switch {
	case e != nil:
		return "", e
	case len(hosts) > 1:
		return "", badField("host_id", "%d hosts run %s: choose one", len(hosts), what)
	}
	return hosts[0], nil
}

func runsActor(id string) func(e *hostEntry) bool {
	return func(e *hostEntry) bool {
		for _, a := range e.inv.Actors {
			if a.ID == id {
				return true
			}
		}
		return false
	}
}

func runsProvider(id, linkName string) func(e *hostEntry) bool {
	return func(e *hostEntry) bool {
		for _, p := range e.inv.Providers {
			if p.ID == id && p.LinkName == linkName {
				return true
			}
		}
		return false
	}
}

// startActor: POST /api/actors {ref, host_id?, count?, constraints?}.
func (d *Dashboard) startActor(w http.ResponseWriter, r *http.Request) {
	var req startActorRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	ref := strings.TrimSpace(req.Ref)
	var cons keyValues
	n, e := count("count", req.Count, 1, 1)
	e = firstError(checkRef("ref", ref), optionalKey("host_id", lattice.PrefixServer, req.HostID), e, cons.parse("constraints", req.Constraints))
	if e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	host := req.HostID
	if host == "" {
		host, e = d.auction(ctx, "start actor", ref, func(ctx context.Context) ([]string, error) {
			acks, err := d.client.AuctionActor(ctx, lattice.ActorAuctionRequest{ActorRef: ref, Constraints: cons})
			ids := make([]string, 0, len(acks))
			for _, a := range acks {
				ids = append(ids, a.HostID)
			}
			return ids, err
		}, cons)
		if e != nil {
			writeError(w, e)
			return
		}
	}
	outcome := lattice.ActorStart(host, ref)
	ev, done, e := d.run(ctx, outcome.Match, func() error {
		return d.client.StartActor(ctx, lattice.StartActorCommand{ActorRef: ref, HostID: host, Count: n})
	}, true)
	o, _ := outcome(ev)
	switch {
	case e != nil:
		writeError(w, e)
	case !done:
		d.pending(w, host, "start actor "+ref)
	case o.Failed:
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity, Field: "ref",
			Msg: fmt.Sprintf("host %s could not start the actor: %s", d.hostName(host), o.Error)})
	default:
		writeJSON(w, http.StatusOK, result{
			Status: "done", HostID: host, ID: o.PublicKey, Event: ev.Name(),
			Message: fmt.Sprintf("started %s on host %s", orDefault(o.Name, shortKey(o.PublicKey)), d.hostName(host)),
		})
	}
}

// scaleActor: POST /api/actors/scale {actor_id, host_id?, count, ref?}.
func (d *Dashboard) scaleActor(w http.ResponseWriter, r *http.Request) {
	var req scaleActorRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	var e *apiError
	n := uint16(0)
	if req.Count == nil {
		e = badField("count", "required")
	} else {
		n, e = count("count", req.Count, 0, 0)
	}
	if e = firstError(requireKey("actor_id", lattice.PrefixModule, req.ActorID), e); e != nil {
		writeError(w, e)
		return
	}
	host, e := d.chooseHost(req.HostID, "actor "+req.ActorID, runsActor(req.ActorID))
	if e != nil {
		writeError(w, e)
		return
	}
	current, ref := d.instances(host, req.ActorID)
	ref = orDefault(strings.TrimSpace(req.Ref), ref)
	match := func(ev lattice.CloudEvent) bool {
		if ev.Source != host {
			return false
		}
		switch ev.Name() {
		case lattice.EventActorStarted, lattice.EventActorStopped:
			var data struct {
				PublicKey string `json:"public_key"`
			}
			return ev.DecodeData(&data) == nil && data.PublicKey == req.ActorID
		case lattice.EventActorStartFailed:
			var data lattice.ActorStartFailedData
			return ev.DecodeData(&data) == nil && (data.ActorRef == req.ActorID || (ref != "" && data.ActorRef == ref))
		}
		return false
	}
	ctx := r.Context()
	wait := current != int(n)
	ev, done, e := d.run(ctx, match, func() error {
		return d.client.ScaleActor(ctx, lattice.ScaleActorCommand{ActorID: req.ActorID, ActorRef: ref, HostID: host, Count: n})
	}, wait)
	switch {
	case e != nil:
		writeError(w, e)
	case wait && !done:
		d.pending(w, host, fmt.Sprintf("scale actor %s to %d", shortKey(req.ActorID), n))
	case done && ev.Name() == lattice.EventActorStartFailed:
		var data lattice.ActorStartFailedData
		_ = ev.DecodeData(&data)
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity, Field: "count",
			Msg: fmt.Sprintf("host %s could not scale the actor: %s", d.hostName(host), data.Error)})
	default:
		writeJSON(w, http.StatusOK, result{
			Status: "done", HostID: host, ID: req.ActorID, Event: ev.Name(),
			Message: fmt.Sprintf("scaled %s to %d on host %s", d.nameOf(req.ActorID), n, d.hostName(host)),
		})
	}
}

// instances is how many instances of an actor a host runs, and from which reference.
func (d *Dashboard) instances(hostID, actorID string) (int, string) {
	d.state.mu.Lock()
	defer d.state.mu.Unlock()
	if e, ok := d.state.hosts[hostID]; ok && e.inv != nil {
		for _, a := range e.inv.Actors {
			if a.ID == actorID {
				return len(a.Instances), a.ImageRef
			}
		}
	}
	return 0, ""
}

// stopActor: POST /api/actors/stop {actor_id, host_id?, count?}.
func (d *Dashboard) stopActor(w http.ResponseWriter, r *http.Request) {
	var req stopActorRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	n, e := count("count", req.Count, 0, 0)
	if e = firstError(requireKey("actor_id", lattice.PrefixModule, req.ActorID), e); e != nil {
		writeError(w, e)
		return
	}
	host, e := d.chooseHost(req.HostID, "actor "+req.ActorID, runsActor(req.ActorID))
	if e != nil {
		writeError(w, e)
		return
	}
	match := func(ev lattice.CloudEvent) bool {
		var data lattice.ActorStoppedData
		return ev.Source == host && ev.Name() == lattice.EventActorStopped && ev.DecodeData(&data) == nil && data.PublicKey == req.ActorID
	}
	ctx := r.Context()
	_, done, e := d.run(ctx, match, func() error {
		return d.client.StopActor(ctx, lattice.StopActorCommand{ActorRef: req.ActorID, HostID: host, Count: n})
	}, true)
	switch {
	case e != nil:
		writeError(w, e)
	case !done:
		d.pending(w, host, "stop actor "+shortKey(req.ActorID))
	default:
		writeJSON(w, http.StatusOK, result{
			Status: "done", HostID: host, ID: req.ActorID, Event: lattice.EventActorStopped,
			Message: fmt.Sprintf("stopped %s on host %s", d.nameOf(req.ActorID), d.hostName(host)),
		})
	}
}

// startProvider: POST /api/providers {ref, link_name?, host_id?, config?, constraints?}.
func (d *Dashboard) startProvider(w http.ResponseWriter, r *http.Request) {
	var req startProviderRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	ref := strings.TrimSpace(req.Ref)
	link := orDefault(strings.TrimSpace(req.LinkName), lattice.DefaultLinkName)
	var cons keyValues
	if e := firstError(checkRef("ref", ref), checkLinkName(link), optionalKey("host_id", lattice.PrefixServer, req.HostID),
		checkConfig("config", req.Config), cons.parse("constraints", req.Constraints)); e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	host := req.HostID
	if host == "" {
		var e *apiError
		host, e = d.auction(ctx, "start provider", ref, func(ctx context.Context) ([]string, error) {
			acks, err := d.client.AuctionProvider(ctx, lattice.ProviderAuctionRequest{ProviderRef: ref, LinkName: link, Constraints: cons})
			ids := make([]string, 0, len(acks))
			for _, a := range acks {
				ids = append(ids, a.HostID)
			}
			return ids, err
		}, cons)
		if e != nil {
			writeError(w, e)
			return
		}
	}
	outcome := lattice.ProviderStart(host, ref, link)
	ev, done, e := d.run(ctx, outcome.Match, func() error {
		return d.client.StartProvider(ctx, lattice.StartProviderCommand{ProviderRef: ref, LinkName: link, HostID: host, Configuration: strings.TrimSpace(req.Config)})
	}, true)
	o, _ := outcome(ev)
	switch {
	case e != nil:
		if e.Status == http.StatusConflict {
			e.Field = "ref"
		}
		writeError(w, e)
	case !done:
		d.pending(w, host, "start provider "+ref)
	case o.Failed:
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity, Field: "ref",
			Msg: fmt.Sprintf("host %s could not start the provider: %s", d.hostName(host), o.Error)})
	default:
		writeJSON(w, http.StatusOK, result{
			Status: "done", HostID: host, ID: o.PublicKey, Event: ev.Name(),
			Message: fmt.Sprintf("started %s (%s, link name %s) on host %s", orDefault(o.Name, shortKey(o.PublicKey)), o.ContractID, link, d.hostName(host)),
		})
	}
}

// stopProvider: POST /api/providers/stop {provider_id, link_name?, contract_id?, host_id?}.
func (d *Dashboard) stopProvider(w http.ResponseWriter, r *http.Request) {
	var req stopProviderRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	link := orDefault(strings.TrimSpace(req.LinkName), lattice.DefaultLinkName)
	if e := firstError(requireKey("provider_id", lattice.PrefixService, req.ProviderID), checkLinkName(link)); e != nil {
		writeError(w, e)
		return
	}
	host, e := d.chooseHost(req.HostID, fmt.Sprintf("provider %s with link name %s", req.ProviderID, link), runsProvider(req.ProviderID, link))
	if e != nil {
		writeError(w, e)
		return
	}
	contract := strings.TrimSpace(req.ContractID)
	if contract == "" {
		contract = d.providerContract(req.ProviderID)
	}
	match := func(ev lattice.CloudEvent) bool {
		var data lattice.ProviderStoppedData
		return ev.Source == host && ev.Name() == lattice.EventProviderStopped && ev.DecodeData(&data) == nil &&
			data.PublicKey == req.ProviderID && data.LinkName == link
	}
	ctx := r.Context()
	_, done, e := d.run(ctx, match, func() error {
		return d.client.StopProvider(ctx, lattice.StopProviderCommand{ProviderRef: req.ProviderID, LinkName: link, ContractID: contract, HostID: host})
	}, true)
	switch {
	case e != nil:
		writeError(w, e)
	case !done:
		d.pending(w, host, "stop provider "+shortKey(req.ProviderID))
	default:
		writeJSON(w, http.StatusOK, result{
			Status: "done", HostID: host, ID: req.ProviderID, Event: lattice.EventProviderStopped,
			Message: fmt.Sprintf("stopped %s (link name %s) on host %s", d.nameOf(req.ProviderID), link, d.hostName(host)),
		})
	}
}

// providerContract is a provider's contract as its claims (or an inventory) say, else "".
func (d *Dashboard) providerContract(id string) string {
	d.state.mu.Lock()
	defer d.state.mu.Unlock()
	if c := d.state.claims[id]["contract_id"]; c != "" {
		return c
	}
	for _, e := range d.state.hosts {
		if e.inv == nil {
			continue
		}
		for _, p := range e.inv.Providers {
			if p.ID == id && p.ContractID != "" {
				return p.ContractID
			}
		}
	}
	return ""
}

// claimsOf returns the claims the dashboard knows of the keys.
func (d *Dashboard) claimsOf(keys ...string) []map[string]string {
	d.state.mu.Lock()
	defer d.state.mu.Unlock()
	var out []map[string]string
	for _, k := range keys {
		if c, ok := d.state.claims[k]; ok {
			out = append(out, c)
		}
	}
	return out
}

// putLink: POST /api/links {actor_id, provider_id, contract_id?, link_name?, values?}. An empty
// contract id is taken from the provider's claims.
func (d *Dashboard) putLink(w http.ResponseWriter, r *http.Request) {
	var req putLinkRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	link := orDefault(strings.TrimSpace(req.LinkName), lattice.DefaultLinkName)
	var values keyValues
	e := firstError(requireKey("actor_id", lattice.PrefixModule, req.ActorID), requireKey("provider_id", lattice.PrefixService, req.ProviderID),
		checkLinkName(link), values.parse("values", req.Values))
	if e != nil {
		writeError(w, e)
		return
	}
	contract := strings.TrimSpace(req.ContractID)
	if contract == "" {
		if contract = d.providerContract(req.ProviderID); contract == "" {
			writeError(w, badField("contract_id", "required (the provider's claims are not known, so it cannot be filled in)"))
			return
		}
	}
	if strings.ContainsAny(contract, " \t\r\n") {
		writeError(w, badField("contract_id", "%q contains white space", contract))
		return
	}
	l := lattice.LinkDefinition{ActorID: req.ActorID, ProviderID: req.ProviderID, ContractID: contract, LinkName: link, Values: values}
	id := lattice.LinkID(l.ActorID, l.ContractID, l.LinkName)
	match := func(ev lattice.CloudEvent) bool {
		if ev.Name() != lattice.EventLinkdefSet && ev.Name() != lattice.EventLinkdefRejected {
			return false
		}
		var data lattice.LinkdefData
		return ev.DecodeData(&data) == nil && data.ID == id
	}
	ctx := r.Context()
	ev, done, e := d.run(ctx, match, func() error { return d.client.PutLink(ctx, l) }, true)
	switch {
	case e != nil:
		writeError(w, e)
	case !done:
		d.pending(w, "", "define the link")
	case ev.Name() == lattice.EventLinkdefRejected:
		var data lattice.LinkdefData
		_ = ev.DecodeData(&data)
		writeError(w, &apiError{Status: http.StatusUnprocessableEntity,
			Msg: fmt.Sprintf("link stored, but host %s rejected it: %s", d.hostName(ev.Source), orDefault(data.Reason, "no reason given"))})
	default:
		writeJSON(w, http.StatusOK, result{
			Status: "done", ID: id, Event: ev.Name(),
			Message:  fmt.Sprintf("linked %s to %s (%s, link name %s)", d.nameOf(l.ActorID), d.nameOf(l.ProviderID), contract, link),
			Warnings: lattice.LinkWarnings(d.claimsOf(l.ActorID, l.ProviderID), l),
		})
	}
}

// deleteLink: DELETE /api/links or POST /api/links/delete {actor_id, contract_id, link_name?}.
func (d *Dashboard) deleteLink(w http.ResponseWriter, r *http.Request) {
	var req deleteLinkRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	link := orDefault(strings.TrimSpace(req.LinkName), lattice.DefaultLinkName)
	contract := strings.TrimSpace(req.ContractID)
	e := firstError(requireKey("actor_id", lattice.PrefixModule, req.ActorID), checkLinkName(link))
	if e == nil && contract == "" {
		e = badField("contract_id", "required")
	}
	if e != nil {
		writeError(w, e)
		return
	}
	if !d.state.hasLink(req.ActorID, contract, link) {
		writeError(w, &apiError{Status: http.StatusNotFound,
			Msg: fmt.Sprintf("no link of actor %s for %s with link name %s", shortKey(req.ActorID), contract, link)})
		return
	}
	id := lattice.LinkID(req.ActorID, contract, link)
	match := func(ev lattice.CloudEvent) bool {
		var data lattice.LinkdefData
		return ev.Name() == lattice.EventLinkdefDeleted && ev.DecodeData(&data) == nil && data.ID == id
	}
	ctx := r.Context()
	_, done, e := d.run(ctx, match, func() error { return d.client.DeleteLink(ctx, req.ActorID, contract, link) }, true)
	switch {
	case e != nil:
		writeError(w, e)
	case !done:
		d.pending(w, "", "delete the link")
	default:
		writeJSON(w, http.StatusOK, result{
			Status: "done", ID: id, Event: lattice.EventLinkdefDeleted,
			Message: fmt.Sprintf("deleted the link of %s (%s, link name %s)", d.nameOf(req.ActorID), contract, link),
		})
	}
}

// checkLinkName refuses link names that cannot be part of a NATS subject.
func checkLinkName(link string) *apiError {
	if strings.ContainsAny(link, " \t\r\n.*>") {
		return badField("link_name", "%q: no spaces, dots or wildcards", link)
	}
	return nil
}

// firstError returns the first non-nil error.
func firstError(errs ...*apiError) *apiError {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
