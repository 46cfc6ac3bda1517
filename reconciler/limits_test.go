package reconciler_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// The scaler's min_instances and max_instances reach the hosts with the start, and a new version
// of the manifest that changes them is applied to the running actor without restarting it.
func TestScalerInstanceLimits(t *testing.T) {
	r := newRig(t)
	n := r.addHost(nil)
	echo := latticetest.SignedActor(t, "./actor/examples/echo", lattice.ActorMetadata{Name: "echo"}, lattice.SignOptions{})
	manifest := func(version string, least, most int) string {
		return fmt.Sprintf(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: limited
  annotations:
    version: %s
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: %s
      traits:
        - type: spreadscaler
          properties:
            replicas: 1
            min_instances: %d
            max_instances: %d
`, version, echo.Path, least, most)
	}
	limits := func(least, most int) {
		t.Helper()
		require.Eventually(t, func() bool {
			d, ok := r.l.Actor(n.h, echo.ID)
			return ok && d.MinInstances == least && d.MaxInstances == most && d.InstancesIdle >= least && len(d.Instances) == 1
		}, 30*time.Second, 20*time.Millisecond)
	}

	r.deploy(manifest("v1", 1, 4))
	r.waitState("limited", app.StateDeployed, "v1", 60*time.Second)
	limits(1, 4)
	first, _ := r.l.Actor(n.h, echo.ID)

	r.deploy(manifest("v2", 2, 6))
	r.waitState("limited", app.StateDeployed, "v2", 60*time.Second)
	limits(2, 6)
	now, _ := r.l.Actor(n.h, echo.ID)
	require.Equal(t, first.Instances, now.Instances, "the same instance: only the limits changed")
}
