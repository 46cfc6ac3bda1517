package lattice

// StartOutcome is how a host ended a start (or update) command, as its event tells: what
// started, or why it did not.
type StartOutcome struct {
	// PublicKey and Name (from the claims) of what started; ContractID for a provider.
	PublicKey, Name, ContractID string
	// Revision is the revision that runs now (0 when the event does not say). After an update,
	// PreviousRevision is the one that ran before: equal when the module already ran.
	Revision, PreviousRevision int
	// Failed is set by a *_start_failed or actor_update_failed event, with the host's Error.
	Failed bool
	Error  string
}

// StartOf reads an event as the outcome of one start or update command; ok is false when the
// event is about something else. ActorStart, ActorUpdate and ProviderStart make one.
type StartOf func(e CloudEvent) (o StartOutcome, ok bool)

// Match reports whether e ends the start: the match of a Waiter.
func (f StartOf) Match(e CloudEvent) bool {
	_, ok := f(e)
	return ok
}

// ActorStart reads the outcome of starting the actor at ref on host.
func ActorStart(host, ref string) StartOf {
	return func(e CloudEvent) (o StartOutcome, ok bool) {
		if e.Source != host {
			return o, false
		}
		switch e.Name() {
		case EventActorStarted:
			var d ActorStartedData
			if e.DecodeData(&d) != nil || d.ImageRef != ref {
				return o, false
			}
			name, _ := d.Claims["name"].(string)
			rev, _ := d.Claims["revision"].(float64)
			return StartOutcome{PublicKey: d.PublicKey, Name: name, Revision: int(rev)}, true
		case EventActorStartFailed:
			var d ActorStartFailedData
			if e.DecodeData(&d) != nil || d.ActorRef != ref {
				return o, false
			}
			return StartOutcome{Failed: true, Error: d.Error}, true
		}
		return o, false
	}
}

// ActorUpdate reads the outcome of updating actor actorID to the module at ref on host (upd):
// its first actor_updated (one comes per instance), or actor_update_failed. Events without an
// image_ref (upstream hosts leave it out) match by key alone; an actor_start_failed for ref is a
// failure too, as Trellis hosts before actor_update_failed reported one.
func ActorUpdate(host, actorID, ref string) StartOf {
	return func(e CloudEvent) (o StartOutcome, ok bool) {
		if e.Source != host {
			return o, false
		}
		switch e.Name() {
		case EventActorUpdated:
			var d ActorUpdatedData
			if e.DecodeData(&d) != nil || d.PublicKey != actorID || (d.ImageRef != "" && d.ImageRef != ref) {
				return o, false
			}
			return StartOutcome{PublicKey: d.PublicKey, Revision: d.Revision, PreviousRevision: d.PreviousRevision}, true
		case EventActorUpdateFailed:
			var d ActorUpdateFailedData
			if e.DecodeData(&d) != nil || d.PublicKey != actorID || (d.ImageRef != "" && d.ImageRef != ref) {
				return o, false
			}
			return StartOutcome{PublicKey: d.PublicKey, Revision: d.Revision, Failed: true, Error: d.Reason}, true
		case EventActorStartFailed:
			var d ActorStartFailedData
			if e.DecodeData(&d) != nil || d.ActorRef != ref {
				return o, false
			}
			return StartOutcome{PublicKey: actorID, Failed: true, Error: d.Error}, true
		}
		return o, false
	}
}

// ProviderStart reads the outcome of starting the provider at ref with linkName ("": default) on
// host. A failure event without a link name (upstream hosts leave it out) matches any.
func ProviderStart(host, ref, linkName string) StartOf {
	linkName = orDefault(linkName, DefaultLinkName)
	return func(e CloudEvent) (o StartOutcome, ok bool) {
		if e.Source != host {
			return o, false
		}
		switch e.Name() {
		case EventProviderStarted:
			var d ProviderStartedData
			if e.DecodeData(&d) != nil || d.ImageRef != ref || orDefault(d.LinkName, DefaultLinkName) != linkName {
				return o, false
			}
			name, _ := d.Claims["name"].(string)
			return StartOutcome{PublicKey: d.PublicKey, Name: name, ContractID: d.ContractID}, true
		case EventProviderStartFailed:
			var d ProviderStartFailedData
			if e.DecodeData(&d) != nil || d.ProviderRef != ref || (d.LinkName != "" && d.LinkName != linkName) {
				return o, false
			}
			return StartOutcome{Failed: true, Error: d.Error}, true
		}
		return o, false
	}
}
