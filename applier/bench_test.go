package applier_test

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/trellis-lattice/trellis/applier"
)

// BenchmarkServiceReconcile measures the Service applier end to end against a real API server, as
// the restricted identity: from a link put in the lattice bucket to its Service existing
// (put-svc-ms), and from the link's delete to the Service being gone (del-gone-ms), both as seen
// by a watch on the API server. It reports the mean and the worst of each; the target is ≤ 1 s.
func BenchmarkServiceReconcile(b *testing.B) {
	c := newCluster(b)
	l := newLattice(b)
	l.start(b, c.config(nil))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := c.admin.Services(c.ns).Watch(ctx, metav1.ListOptions{LabelSelector: applier.LabelLattice + "=" + l.name})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	// wait returns when the watch reports the Service named name with the event type want.
	wait := func(name string, want watch.EventType) {
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					b.Fatal("the watch of Services ended")
				}
				if svc, isSvc := ev.Object.(*corev1.Service); isSvc && svc.Name == name && ev.Type == want {
					return
				}
			case <-timeout:
				b.Fatalf("no %s event for Service %s within 30s", want, name)
			}
		}
	}

	var puts, dels []time.Duration
	b.ResetTimer()
	for range b.N {
		link := httpLink(b, map[string]string{"address": "0.0.0.0:8080"})
		name := applier.ServiceName(link.ActorID)
		start := time.Now()
		l.put(b, link)
		wait(name, watch.Added)
		puts = append(puts, time.Since(start))

		start = time.Now()
		l.del(b, link)
		wait(name, watch.Deleted)
		dels = append(dels, time.Since(start))
	}
	b.StopTimer()
	report := func(ds []time.Duration, unit string) {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		b.ReportMetric(float64(sum.Microseconds())/float64(len(ds))/1000, unit)
		b.ReportMetric(float64(slices.Max(ds).Microseconds())/1000, "max-"+unit)
	}
	report(puts, "put-svc-ms")
	report(dels, "del-gone-ms")
}
