// Package messaging is the wasmcloud:messaging capability provider over NATS: actors publish
// (Messaging.Publish) and make requests (Messaging.Request), and every message on the subjects a
// link subscribes to is delivered to the actor as MessageSubscriber.HandleMessage.
//
// Each linked actor gets its own NATS connection, made when the link is put and closed when it is
// deleted. Link values (keys case-insensitive):
//
//   - SUBSCRIPTION: comma-separated subjects; "subject|queue" joins a queue group, so only one
//     of the group's members gets each message. See ParseSubscriptions.
//   - URI: the server(s) to connect to, comma-separated. Default: cluster_uris of the host's
//     config_json, else Config.DefaultURL, else the server of the lattice connection (upstream
//     defaults to 0.0.0.0:4222, which on a laptop is the same server).
//   - CLIENT_JWT and CLIENT_SEED: user credentials for that connection, both or neither. The
//     lattice connection's credentials are never lent to actors.
//
// Up to Config.MaxConcurrent messages of one subscription are delivered at once, so an actor may
// see them out of publication order (as upstream); a delivery the actor fails is logged, not
// retried: plain NATS has no redelivery.
//
// The host's config_json may hold upstream's provider-wide defaults (subscriptions, cluster_uris,
// auth_jwt, auth_seed); a link's values override them field by field.
//
// Note that an actor whose connection reaches the lattice's server can publish on any subject the
// server lets it, including the lattice's own; give such links a URI or credentials limited to
// the application's subjects.
//
// It imports lattice, its contracts and the providers SDK; never host, another provider or cmd.
package messaging
