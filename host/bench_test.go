package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
)

// BenchmarkActorCallOverNATS measures a signed invocation of the echo actor from a ctl client
// through an embedded NATS server to a host and back.
func BenchmarkActorCallOverNATS(b *testing.B) {
	l := hosttest.New(b)
	h := l.StartHost()
	echo := echoActor(b)
	id := l.StartActor(h, echo.Path, 1)
	msg, err := httpserver.HttpRequest{Method: "GET", Path: "/"}.Encode()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Ctl.Call(ctx, id, httpserver.OpHandleRequest, msg); err != nil {
			b.Fatal(err)
		}
	}
}
