package host

import (
	"errors"

	"github.com/trellis-lattice/trellis/lattice"
)

var errProvidersUnsupported = errors.New("this host cannot run capability providers yet")

func (h *Host) launchProvider(c lattice.StartProviderCommand) error { return errProvidersUnsupported }

func (h *Host) stopProviderCommand(c lattice.StopProviderCommand) error {
	return errProvidersUnsupported
}

func (h *Host) runsProvider(ref, linkName string) bool { return false }
