// Package reconciler keeps a lattice at the applications deployed in it: it compares the
// deployed versions of the manifests in the apps store (lattice/app) with what the hosts report
// they run, and closes the gap with the ordinary control commands (launch, stop and update
// actors, launch and stop providers, put and delete links), so it composes with `trellis ctl`
// and the dashboard.
//
// Every host runs a Reconciler; one at a time acts, the holder of the lattice's reconciler lease
// (app.Lease). The others wait and take over when the lease is released or expires. The work is
// level-triggered: each pass reads the whole desired and actual state (records, statuses, host
// inventories, links) and decides from them alone, with a small memory of commands in flight so
// that a pull in progress is not started twice. Lattice events and store changes only make the
// next pass come sooner; a periodic pass catches what no event tells (a host that vanished).
//
// What it starts it marks with annotations (wasmcloud.dev/managed-by, wasmcloud.dev/appspec,
// trellis.dev/component, wasmcloud.dev/spread_name), and it stops only what carries them. The
// links it puts it records in the app's status, and deletes only those.
//
// A pass, drawn:
//
//	observe (hosts, inventories, links) ─► plan per app (sends nothing: desired per host, diff, status)
//	      ▲                                         │
//	      └──── next pass (event, store change, tick) ◄── act (commands; remember what is in flight)
//
// It imports lattice, lattice/app and lattice/oam, and nothing else of the project.
package reconciler
