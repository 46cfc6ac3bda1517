// Package dashboard is the lattice's web dashboard: an http.Handler serving an embedded page
// (plain HTML, CSS and JavaScript, no build step), a JSON API over the control client, and a
// websocket that streams lattice events and view updates to the page.
//
// It shows the whole lattice, not only the host that serves it: a Dashboard keeps a view model
// (hosts, their inventories, links, claims) up to date from the lattice's events, asks the hosts
// again when an event says something changed, and refreshes everything periodically so it
// converges after missed events. Hosts that stop heartbeating are marked stale, then removed.
//
// With JetStream it also shows the lattice's declarative apps: it watches the apps store
// (lattice/app), takes the reconciler's app_status events and asks who holds the reconciler
// lease, and deploys, rolls back and undeploys versions through the same store.
//
// Commands that start, update or stop things wait briefly for the event that tells how they
// ended, so an error (a bad reference, a refusal) is answered to the form that sent the command.
//
// Every request passes guards (guard.go, auth.go): security headers on every answer, the Host
// check against DNS rebinding, the Origin and Sec-Fetch-Site check of every state-changing
// request and of the websocket, the refusal of body types another site may send without CORS,
// and, when Config.Token is set, the token as a bearer header or the session cookie of
// POST /api/login.
//
// It imports lattice and its subpackages only: never host, providers, applier or cmd. cmd wires
// it to a NATS connection and serves Handler on --dashboard-addr.
package dashboard
