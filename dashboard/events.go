package dashboard

import (
	"encoding/json"
	"sync"

	"github.com/trellis-lattice/trellis/lattice"
)

// Event is a lattice event as the page gets it: the CloudEvent with its short type name.
type Event struct {
	ID string `json:"id"`
	// Type is the short name: actor_started, linkdef_set, …
	Type string `json:"type"`
	// Source is the host that published it.
	Source string          `json:"source"`
	Time   string          `json:"time"`
	Data   json.RawMessage `json:"data"`
}

func eventOf(ev lattice.CloudEvent) Event {
	data := ev.Data
	if len(data) == 0 || !json.Valid(data) {
		data = json.RawMessage("null")
	}
	return Event{ID: ev.ID, Type: ev.Name(), Source: ev.Source, Time: ev.Time, Data: data}
}

// logged reports whether an event goes into the event log and to the page as an event.
// Heartbeats come every 30s from every host (and after every ping): they update the hosts but
// would drown the log.
func logged(ev lattice.CloudEvent) bool { return ev.Name() != lattice.EventHostHeartbeat }

// onEvent handles every lattice event, on the NATS connection's goroutine: it must stay quick.
func (d *Dashboard) onEvent(ev lattice.CloudEvent) {
	if logged(ev) {
		e := eventOf(ev)
		d.events.add(e)
		d.hub.broadcast(eventMessage(e))
	}
	d.refresh.schedule(d.state.apply(ev))
}

// eventLog keeps the latest events, oldest first.
type eventLog struct {
	mu   sync.Mutex
	size int
	buf  []Event // ring of size entries once full
	next int     // where the next event goes once full
}

func newEventLog(size int) *eventLog { return &eventLog{size: size} }

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size <= 0 {
		return
	}
	if len(l.buf) < l.size {
		l.buf = append(l.buf, e)
		return
	}
	l.buf[l.next] = e
	l.next = (l.next + 1) % l.size
}

// list returns the events, oldest first.
func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	out = append(out, l.buf[:l.next]...)
	return out
}
