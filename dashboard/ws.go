package dashboard

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"
)

// Message is what the websocket at /ws sends, one JSON text message each. On connecting, a client
// gets a "view" message and an "events" message (the event log); then a "view" message whenever
// the view changes and an "event" message for every lattice event except heartbeats.
type Message struct {
	// Type is "view", "event" or "events".
	Type   string  `json:"type"`
	View   *View   `json:"view,omitempty"`
	Event  *Event  `json:"event,omitempty"`
	Events []Event `json:"events,omitempty"`
}

func viewMessage(v View) []byte       { return encodeMessage(Message{Type: "view", View: &v}) }
func eventMessage(e Event) []byte     { return encodeMessage(Message{Type: "event", Event: &e}) }
func eventsMessage(es []Event) []byte { return encodeMessage(Message{Type: "events", Events: es}) }

func encodeMessage(m Message) []byte {
	b, err := json.Marshal(m)
	if err != nil { // only plain data goes in: cannot happen
		panic("dashboard: encode websocket message: " + err.Error())
	}
	return b
}

const (
	wsSendQueue  = 256              // messages queued per client; a client that falls behind is dropped
	wsWriteWait  = 10 * time.Second // to write one message
	wsPingPeriod = 25 * time.Second // pings keep proxies (kubectl port-forward) from closing idle sockets
	wsPongWait   = 60 * time.Second // a client that answers no ping for this long is gone
	wsReadLimit  = 4096             // the page sends nothing but control frames
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 16 * 1024,
	// Same origin only, so another site cannot read the stream; checkOrigin refused the others
	// before the upgrade already, with the reason.
	CheckOrigin: func(r *http.Request) bool { return crossSite(r) == "" },
}

// hub is the set of connected websocket clients.
type hub struct {
	log     zerolog.Logger
	mu      sync.Mutex
	clients map[*wsClient]struct{}
	closed  bool
}

func newHub(log zerolog.Logger) *hub {
	return &hub{log: log, clients: map[*wsClient]struct{}{}}
}

type wsClient struct {
	conn *websocket.Conn
	send chan []byte
	done chan struct{}
	once sync.Once
}

func (c *wsClient) close() { c.once.Do(func() { close(c.done) }) }

// add registers a client after queueing its first messages, so they come before any broadcast.
func (h *hub) add(c *wsClient, first ...[]byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	for _, m := range first {
		c.send <- m
	}
	h.clients[c] = struct{}{}
	return true
}

func (h *hub) remove(c *wsClient) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.close()
}

// broadcast queues msg for every client; a client whose queue is full is dropped (the page
// reconnects and gets a fresh view).
func (h *hub) broadcast(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- msg:
		default:
			h.log.Debug().Str("remote", c.conn.RemoteAddr().String()).Msg("websocket client too slow: dropped")
			delete(h.clients, c)
			c.close()
		}
	}
}

// closeAll disconnects every client and refuses new ones.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		c.close()
	}
}

// serveWS upgrades the request and streams messages until the client goes or the dashboard stops.
func (d *Dashboard) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		d.log.Debug().Err(err).Msg("websocket upgrade") // the upgrader answered the client
		return
	}
	c := &wsClient{conn: conn, send: make(chan []byte, wsSendQueue), done: make(chan struct{})}
	if !d.hub.add(c, viewMessage(d.view()), eventsMessage(d.events.list())) {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "dashboard stopping"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	go d.readWS(c)
	d.writeWS(c)
	d.hub.remove(c)
}

// readWS reads (and drops) what the client sends, so control frames are handled, until the
// connection fails.
func (d *Dashboard) readWS(c *wsClient) {
	defer d.hub.remove(c)
	c.conn.SetReadLimit(wsReadLimit)
	_ = c.conn.SetReadDeadline(time.Now().Add(wsPongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(wsPongWait))
	})
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return
		}
	}
}

// writeWS sends queued messages and pings until the client is closed, then closes the connection.
func (d *Dashboard) writeWS(c *wsClient) {
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	defer c.conn.Close() //nolint:errcheck // the client is gone either way
	for {
		select {
		case msg := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				return
			}
		case <-c.done:
			_ = c.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return
		}
	}
}
