package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/trellis-lattice/trellis/lattice"
)

// updateActor: POST /api/actors/update {actor_id, ref, host_id?}. It sends upd to the host given,
// else to every host running the actor, and answers how each ended: the new revision, or the
// host's error.
func (d *Dashboard) updateActor(w http.ResponseWriter, r *http.Request) {
	var req updateActorRequest
	if e := decodeJSON(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	ref := strings.TrimSpace(req.Ref)
	if e := firstError(requireKey("actor_id", lattice.PrefixModule, req.ActorID), checkRef("ref", ref)); e != nil {
		writeError(w, e)
		return
	}
	hosts, e := d.hostsFor(req.HostID, "actor "+req.ActorID, runsActor(req.ActorID))
	if e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	outs := make([]updateOutcome, len(hosts))
	var wg sync.WaitGroup
	for i, host := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = d.updateOn(ctx, host, req.ActorID, ref)
		}()
	}
	wg.Wait()
	d.answerUpdate(w, req.ActorID, ref, outs)
}

// updateOutcome is how one host ended an update.
type updateOutcome struct {
	host string
	err  *apiError // the command was not carried out (refused, no answer)
	done bool      // the outcome event came
	lattice.StartOutcome
}

func (d *Dashboard) updateOn(ctx context.Context, host, id, ref string) updateOutcome {
	outcome := lattice.ActorUpdate(host, id, ref)
	ev, done, e := d.run(ctx, outcome.Match, func() error {
		return d.client.UpdateActor(ctx, lattice.UpdateActorCommand{ActorID: id, HostID: host, NewActorRef: ref})
	}, true)
	o := updateOutcome{host: host, err: e, done: done}
	if e == nil && done {
		o.StartOutcome, _ = outcome(ev)
	}
	return o
}

// answerUpdate answers the outcomes of an update: 200 when every host updated, 202 when some
// have not told yet and none failed, else the error of the failures, naming every host's outcome.
func (d *Dashboard) answerUpdate(w http.ResponseWriter, id, ref string, outs []updateOutcome) {
	name := d.nameOf(id)
	var updated, problems, pending []string
	revisions := map[int]bool{}
	var rev int
	status := 0
	for _, o := range outs {
		host := d.hostName(o.host)
		switch {
		case o.err != nil:
			problems = append(problems, fmt.Sprintf("host %s: %s", host, o.err.Msg))
			if status == 0 {
				status = o.err.Status
			}
		case !o.done:
			pending = append(pending, host)
		case o.Failed:
			problems = append(problems, fmt.Sprintf("host %s could not update the actor: %s", host, orDefault(o.Error, "no reason given")))
			status = http.StatusUnprocessableEntity
		default:
			note := fmt.Sprintf("revision %d", o.Revision)
			if o.PreviousRevision != 0 && o.PreviousRevision == o.Revision {
				note = fmt.Sprintf("runs revision %d already", o.Revision)
			}
			updated = append(updated, fmt.Sprintf("%s (%s)", host, note))
			revisions[o.Revision] = true
			rev = o.Revision
		}
	}
	var parts []string
	if len(updated) > 0 {
		parts = append(parts, fmt.Sprintf("updated %s to %s on host%s %s", name, ref, plural(len(updated)), strings.Join(updated, ", ")))
	}
	parts = append(parts, problems...)
	if len(pending) > 0 {
		parts = append(parts, fmt.Sprintf("host%s %s accepted the update; no outcome within %s yet (watch the event log)",
			plural(len(pending)), strings.Join(pending, ", "), d.cfg.CommandTimeout))
	}
	msg := strings.Join(parts, "; ")
	switch {
	case len(problems) > 0:
		field := ""
		if status == http.StatusUnprocessableEntity {
			field = "ref"
		}
		writeError(w, &apiError{Status: status, Field: field, Msg: msg})
	case len(pending) > 0:
		writeJSON(w, http.StatusAccepted, result{Status: "pending", ID: id, Message: msg})
	default:
		res := result{Status: "done", ID: id, Event: lattice.EventActorUpdated, Message: msg}
		if len(outs) == 1 {
			res.HostID = outs[0].host
		}
		if len(revisions) == 1 {
			res.Revision = &rev
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
