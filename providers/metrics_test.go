package providers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
)

// TestMetricsAddr: a provider whose configuration has metrics_addr gets a registry
// (Host.Metrics) served there on /metrics; without it, none; a metrics_addr that is no address
// fails the run, naming the key.
func TestMetricsAddr(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", latticetest.FreePort(t))
	e := newEcho()
	newRig(t, e, func(hd *lattice.HostData) { hd.ConfigJSON = `{"other": 1, "metrics_addr": "` + addr + `"}` })
	reg := e.Host().Metrics()
	require.NotNil(t, reg)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "echo_things_total", Help: "things"})
	require.NoError(t, reg.Register(c))
	c.Add(3)
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(body), "\necho_things_total 3\n")
	require.Contains(t, string(body), "go_goroutines")

	plain := newEcho()
	newRig(t, plain, func(hd *lattice.HostData) { hd.ConfigJSON = `not json: the provider's to judge` })
	require.Nil(t, plain.Host().Metrics())

	for _, bad := range []string{`{"metrics_addr": 9091}`, `{"metrics_addr": ""}`} {
		r := newRig(t, newEcho(), nil)
		hd := r.hd
		hd.ConfigJSON = bad
		err := providers.Run(context.Background(), hd, newEcho(), providers.DefaultConfig(echoContract))
		require.ErrorContains(t, err, "metrics_addr")
		require.True(t, strings.Contains(err.Error(), "address"), err.Error())
	}
}
