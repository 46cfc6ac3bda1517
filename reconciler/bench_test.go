package reconciler_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

// BenchmarkReconcileConvergence deploys 100 apps of 5 actor components each (2 replicas each,
// 1,000 instances in all) on 3 hosts at once and measures the time until every app's status
// says deployed, and the CPU the whole process (hosts, reconcilers, NATS) used meanwhile.
func BenchmarkReconcileConvergence(b *testing.B) {
	const apps, comps, replicas = 100, 5, 2
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRig(b)
		for range 3 {
			r.addHost(nil)
		}
		actors := make([]latticetest.Actor, comps)
		for c := range actors {
			actors[c] = latticetest.SignedActor(b, "./actor/examples/echo", lattice.ActorMetadata{Name: fmt.Sprintf("echo%d", c)}, lattice.SignOptions{})
		}
		var manifests []*oam.Manifest
		for a := range apps {
			var sb strings.Builder
			fmt.Fprintf(&sb, "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: app%03d\n  annotations:\n    version: v1\nspec:\n  components:\n", a)
			for c := range comps {
				fmt.Fprintf(&sb, "    - name: c%d\n      type: actor\n      properties:\n        image: %s\n      traits:\n        - type: spreadscaler\n          properties:\n            replicas: %d\n", c, actors[c].Path, replicas)
			}
			m, err := oam.Parse([]byte(sb.String()))
			require.NoError(b, err)
			manifests = append(manifests, m)
		}
		ctx := context.Background()
		cpu0 := cpuTime()
		start := time.Now()
		b.StartTimer()
		for _, m := range manifests {
			put, err := r.store.Put(ctx, m, "")
			require.NoError(b, err)
			_, err = r.store.Deploy(ctx, put.Name, put.Version)
			require.NoError(b, err)
		}
		require.Eventually(b, func() bool {
			sts, err := r.store.Statuses(ctx)
			if err != nil || len(sts) < apps {
				return false
			}
			for _, st := range sts {
				if st.State != app.StateDeployed {
					return false
				}
			}
			return true
		}, 5*time.Minute, 100*time.Millisecond)
		b.StopTimer()
		b.ReportMetric(time.Since(start).Seconds(), "s/converge")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s/converge")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
