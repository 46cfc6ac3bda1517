package host

// ActorLoad reports how many invocations the actor id has been handed and not yet answered on h.
func (h *Host) ActorLoad(id string) int {
	if a, ok := h.actors.get(id); ok {
		return int(a.load.Load())
	}
	return 0
}
