package host

// ProviderProcess is a running provider process that a host started from its data dir.
type ProviderProcess struct {
	PID     int
	HostPID int    // the host that started it
	Binary  string // the executable it runs; "" when it cannot be told
}
