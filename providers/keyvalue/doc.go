// Package keyvalue is the wasmcloud:keyvalue capability provider: the fifteen KeyValue.*
// operations of the contract (lattice/contracts/keyvalue) served to linked actors from one of two
// backends, chosen per link.
//
//   - In memory (the default, when the link has no URL value): each linked actor has its own
//     namespace, so two actors using the key "counter" never see each other's value. Keys may
//     expire (Set with expires > 0). A namespace lives as long as the provider process: deleting
//     and putting the link again keeps the actor's data; restarting the provider loses it.
//   - Redis, when the link has a URL value (key case-insensitive: URL, url) such as
//     redis://127.0.0.1:6379/0 or rediss://user:pass@host:6380: one client per link, closed when
//     the link is deleted. As with upstream's kvredis, actors linked to the same database share
//     its keys.
//
// Both backends follow Redis's semantics (the contract was modelled on it): strings, lists and sets
// share one key space and an operation on a key of another kind fails with ErrWrongType; a list or
// set that becomes empty disappears; Increment counts a missing key from 0 and fails with
// ErrNotInteger on a value that is not a decimal integer and ErrOverflow when the result leaves
// the int32 range, leaving the value as it was; ListRange uses LRANGE's inclusive, negative-from-
// the-end indexes; SetQuery, SetUnion and SetIntersection return sorted members.
//
// It imports lattice, its contracts and the providers SDK; never host, another provider or cmd.
package keyvalue
