package reconciler

import (
	"maps"

	"github.com/trellis-lattice/trellis/lattice"
)

// world is one pass's view of the lattice: the hosts that answered, what each runs, the links.
type world struct {
	hosts []*hostState // sorted by id
	links map[string]lattice.LinkDefinition
}

// hostState is one host and its inventory.
type hostState struct {
	id        string
	labels    map[string]string
	actors    []lattice.ActorDescription
	providers []lattice.ProviderDescription
}

func (w *world) link(actorID, contractID, linkName string) (lattice.LinkDefinition, bool) {
	l, ok := w.links[lattice.LinkID(actorID, contractID, linkName)]
	return l, ok
}

// actorUnit is what one host runs of one actor component: one actor (a key and its image) and
// its managed instances by spread.
type actorUnit struct {
	actorID  string
	image    string
	bySpread map[string]int
}

func (u actorUnit) total() int {
	n := 0
	for _, c := range u.bySpread {
		n += c
	}
	return n
}

// actorUnits returns what the host runs for the component, managed by the reconciler.
func (h *hostState) actorUnits(appName, component string) []actorUnit {
	var out []actorUnit
	for _, a := range h.actors {
		u := actorUnit{actorID: a.ID, image: a.ImageRef, bySpread: map[string]int{}}
		for _, in := range a.Instances {
			if an, c, s, ok := managedBy(in.Annotations); ok && an == appName && c == component {
				u.bySpread[s]++
			}
		}
		if len(u.bySpread) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// providerUnits returns the providers the host runs for the component, managed by the reconciler.
func (h *hostState) providerUnits(appName, component string) []lattice.ProviderDescription {
	var out []lattice.ProviderDescription
	for _, p := range h.providers {
		if an, c, _, ok := managedBy(p.Annotations); ok && an == appName && c == component {
			out = append(out, p)
		}
	}
	return out
}

// providerTaken reports whether the host runs a provider from image with that link name that the
// component does not own: a host runs a provider once per link name, so it cannot take ours.
func (h *hostState) providerTaken(image, linkName, appName, component string) bool {
	for _, p := range h.providers {
		if p.ImageRef != image || p.LinkName != linkName {
			continue
		}
		if an, c, _, ok := managedBy(p.Annotations); ok && an == appName && c == component {
			continue
		}
		return true
	}
	return false
}

// unmanagedActor reports whether the host runs instances of the actor that the component does not
// own (started by ctl or another app): a live update would change those too, and a replacement
// cannot start other bytes of the same actor beside them.
func (h *hostState) unmanagedActor(actorID, appName, component string) bool {
	for _, a := range h.actors {
		if a.ID != actorID {
			continue
		}
		for _, in := range a.Instances {
			if an, c, _, ok := managedBy(in.Annotations); !ok || an != appName || c != component {
				return true
			}
		}
	}
	return false
}

// matches reports whether the host's labels include every requirement.
func (h *hostState) matches(req map[string]string) bool {
	for k, v := range req {
		if h.labels[k] != v {
			return false
		}
	}
	return true
}

// managedApps lists the apps anything on the host is managed for.
func (h *hostState) managedApps(into map[string]bool) {
	for _, a := range h.actors {
		for _, in := range a.Instances {
			if an, _, _, ok := managedBy(in.Annotations); ok {
				into[an] = true
			}
		}
	}
	for _, p := range h.providers {
		if an, _, _, ok := managedBy(p.Annotations); ok {
			into[an] = true
		}
	}
}

func cloneLabels(m map[string]string) map[string]string { return maps.Clone(m) }
