// Package lattice is Trellis's shared vocabulary: what hosts, providers, the applier, the
// dashboard and the CLI agree on. It must not import any other package of this project;
// everything else may import it.
//
// By concept:
//
//   - Keys: KeyPair, CreateKeyPair, KeyPairFromSeed, CheckPublicKey and the prefixes (including
//     the module M and service V kinds nkeys does not know).
//   - Claims: SignActor, VerifyActor and InspectActor for actor modules; ProviderArchive,
//     ReadPAR and the provider claims; SignJWT for any wascap token; SignLink and VerifyLink
//     for Trellis's signed links.
//   - Subjects: Subjects names every NATS subject of a lattice (PROTOCOL.md §4).
//   - Control interface: the command, query and reply types (StartActorCommand, Host,
//     HostInventory, Ack …) and Client, the ctl client the CLI and the dashboard use (commands,
//     queries, Call, events through Client.Subscribe and Client.NewWaiter).
//   - Events: the CloudEvents envelope and the data of each event type.
//   - Invocations: Invocation and InvocationResponse (the RPC envelope and its anti-forgery
//     token), and the one round trip: Caller for the side that calls, Server with a Handler for
//     the side that answers, Chunks for payloads over MaxInlinePayload.
//   - Links and lattice data: LinkDefinition and Store, the LATTICEDATA_{L} bucket of links,
//     claims and refmaps, with its watch.
//   - JetStream buckets: Subjects.Buckets lists every bucket of a lattice; BucketStateOf reads
//     a bucket's replicas and leader, RaiseReplicas raises them (never lowers); NewJetStream is
//     the JetStream context in a lattice's domain.
//   - Providers: HostData, what a host hands a provider process at launch.
//   - OCI references: ParseOCIRef and the media types of actors and provider archives.
package lattice
