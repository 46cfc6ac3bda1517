package integration_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// The hops rows of BenchmarkHTTPEcho: the sockets of the lattice path without wasm, claims or
// msgpack. A net/http gateway turns each HTTP request into one NATS request on the lattice's
// server; a Go queue subscriber on another connection answers the echo body, each message in its
// own goroutine as the host serves invocations. With signed set, the gateway signs the payload
// with ed25519 and sends payload+signature, and the subscriber verifies it before it answers: the
// one signature and one verification per request the wire path also pays.
const (
	hopsQueue   = "bench"
	hopsTimeout = 5 * time.Second // as the test lattice's RPC timeout
)

// hopsEcho starts a gateway and its subscriber on ns and returns the gateway's URL.
func hopsEcho(b *testing.B, ns *server.Server, signed bool) string {
	subject := "trellis.bench.hops"
	var priv ed25519.PrivateKey
	var pub ed25519.PublicKey
	if signed {
		subject = "trellis.bench.hopsed"
		var err error
		pub, priv, err = ed25519.GenerateKey(rand.Reader)
		require.NoError(b, err)
	}

	sc := latticetest.Connect(b, ns)
	sub, err := sc.QueueSubscribe(subject, hopsQueue, func(m *nats.Msg) {
		go func() {
			body := m.Data
			if signed {
				body = openSigned(pub, m.Data)
			}
			// An empty answer is a refusal; the gateway turns it into a 500.
			_ = m.Respond(body)
		}()
	})
	require.NoError(b, err)
	require.NoError(b, sub.SetPendingLimits(-1, -1))
	require.NoError(b, sc.Flush())

	gc := latticetest.Connect(b, ns)
	return serveHTTP(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		payload := echoJSON(r)
		if signed {
			payload = append(payload, ed25519.Sign(priv, payload)...)
		}
		ctx, cancel := context.WithTimeout(r.Context(), hopsTimeout)
		defer cancel()
		reply, err := gc.RequestWithContext(ctx, subject, payload)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if len(reply.Data) == 0 {
			http.Error(w, "refused by the subscriber", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply.Data)
	}))
}

// openSigned returns the payload of payload+signature when the signature verifies under pub, nil
// when it does not.
func openSigned(pub ed25519.PublicKey, data []byte) []byte {
	if len(data) < ed25519.SignatureSize {
		return nil
	}
	n := len(data) - ed25519.SignatureSize
	if !ed25519.Verify(pub, data[:n], data[n:]) {
		return nil
	}
	return data[:n]
}

// TestHopsSignature: the hopsed subscriber answers a signed payload and refuses a tampered one
// (the gateway then answers 500).
func TestHopsSignature(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	payload := []byte(echoBody)
	signed := append(append([]byte(nil), payload...), ed25519.Sign(priv, payload)...)
	require.Equal(t, payload, openSigned(pub, signed))

	tampered := append([]byte(nil), signed...)
	tampered[0] ^= 1
	require.Nil(t, openSigned(pub, tampered))
	require.Nil(t, openSigned(pub, payload[:10]))
}
