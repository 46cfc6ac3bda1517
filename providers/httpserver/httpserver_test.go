package httpserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/providers"
	"github.com/trellis-lattice/trellis/providers/httpserver"
	"github.com/trellis-lattice/trellis/providers/providertest"
)

func TestConformance(t *testing.T) {
	var current *httpserver.Provider
	providertest.Run(t, providertest.Subject{
		New: func(*testing.T) providers.Provider {
			current = httpserver.New()
			return current
		},
		Config:     httpserver.Config(),
		LinkValues: func(*testing.T) map[string]string { return map[string]string{"address": "127.0.0.1:0"} },
		Probe: func(t *testing.T, env providertest.Env) {
			stop := fakeActor(t, env.NATS, env.Subjects, env.ActorID, echo)
			defer stop()
			addr, ok := current.Addr(env.ActorID)
			require.True(t, ok, "no listener for the linked actor")
			resp, body := get(t, "http://"+addr.String()+"/probe?x=1")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var got map[string]any
			require.NoError(t, json.Unmarshal(body, &got))
			require.Equal(t, "/probe", got["path"])
			require.Equal(t, "x=1", got["query_string"])
		},
	})
}

// rig runs the httpserver provider on a fresh lattice and plays the host.
type rig struct {
	nc   *nats.Conn
	subj lattice.Subjects
	hd   lattice.HostData
	p    *httpserver.Provider
	done chan error
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, nil)
}

// newRigWith is newRig with edit applied to the provider's HostData.
func newRigWith(t *testing.T, edit func(*lattice.HostData)) *rig {
	t.Helper()
	ns := latticetest.RunNATS(t)
	cluster := latticetest.Key(t, lattice.PrefixCluster)
	seed, err := cluster.Seed()
	require.NoError(t, err)
	r := &rig{nc: latticetest.Connect(t, ns), subj: lattice.NewSubjects("http"), p: httpserver.New(), done: make(chan error, 1)}
	r.hd = lattice.HostData{
		HostID:              latticetest.Key(t, lattice.PrefixServer).PublicKey(),
		LatticeRPCPrefix:    "http",
		LinkName:            lattice.DefaultLinkName,
		LatticeRPCURL:       fmt.Sprintf("127.0.0.1:%d", latticetest.Port(t, ns)),
		InstanceID:          uuid.NewString(),
		ProviderKey:         latticetest.Key(t, lattice.PrefixService).PublicKey(),
		DefaultRPCTimeoutMS: 2000,
		ClusterIssuers:      []string{cluster.PublicKey()},
		InvocationSeed:      seed,
	}
	if edit != nil {
		edit(&r.hd)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- providers.Run(ctx, r.hd, r.p, httpserver.Config()) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	require.Eventually(t, func() bool {
		_, err := r.nc.Request(r.subj.ProviderHealth(r.hd.ProviderKey, "default"), nil, 200*time.Millisecond)
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	return r
}

// link puts a link for actor with values and returns the ack.
func (r *rig) link(t *testing.T, kind, actor string, values map[string]string) lattice.Ack {
	t.Helper()
	l := lattice.LinkDefinition{ActorID: actor, ProviderID: r.hd.ProviderKey, LinkName: "default", ContractID: contract.ContractID, Values: values}
	data, err := lattice.Marshal(l)
	require.NoError(t, err)
	subject := r.subj.ProviderLinkPut(r.hd.ProviderKey, "default")
	if kind == "del" {
		subject = r.subj.ProviderLinkDel(r.hd.ProviderKey, "default")
	}
	msg, err := r.nc.Request(subject, data, 10*time.Second)
	require.NoError(t, err)
	var ack lattice.Ack
	require.NoError(t, json.Unmarshal(msg.Data, &ack))
	return ack
}

// serve links a new actor answering with h on a listener bound to values (default a free
// loopback port) and returns the actor id and base URL.
func (r *rig) serve(t *testing.T, values map[string]string, h actorFunc) (string, string) {
	t.Helper()
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	if values == nil {
		values = map[string]string{"address": "127.0.0.1:0"}
	}
	if h != nil {
		t.Cleanup(fakeActor(t, r.nc, r.subj, actor, h))
	}
	ack := r.link(t, "put", actor, values)
	require.True(t, ack.Accepted, ack.Error)
	addr, ok := r.p.Addr(actor)
	require.True(t, ok)
	return actor, "http://" + addr.String()
}

// actorFunc answers an HttpRequest like an actor; ok false means never answer.
type actorFunc func(req contract.HttpRequest) (resp contract.HttpResponse, actorErr string, ok bool)

func echo(req contract.HttpRequest) (contract.HttpResponse, string, bool) {
	body, _ := json.Marshal(map[string]any{"method": req.Method, "path": req.Path, "query_string": req.QueryString, "body": req.Body, "header": req.Header})
	return contract.HttpResponse{StatusCode: 200, Header: contract.HeaderMap{"content-type": {"application/json"}}, Body: body}, "", true
}

// fakeActor answers HttpServer.HandleRequest invocations on the actor's subject.
func fakeActor(t *testing.T, nc *nats.Conn, subj lattice.Subjects, actor string, h actorFunc) func() {
	sub, err := nc.Subscribe(subj.Actor(actor), func(m *nats.Msg) {
		inv, err := lattice.DecodeInvocation(m.Data)
		if err != nil {
			return
		}
		resp := lattice.InvocationResponse{InvocationID: inv.ID}
		if inv.Operation != contract.OpHandleRequest || inv.Origin.ContractID != contract.ContractID {
			resp.Error = "unexpected invocation " + inv.Operation + " from " + inv.Origin.ContractID
		} else if req, err := contract.DecodeRequest(inv.Msg); err != nil {
			resp.Error = err.Error()
		} else {
			out, actorErr, ok := h(req)
			if !ok {
				return
			}
			resp.Error = actorErr
			if actorErr == "" {
				resp.Msg, _ = out.Encode()
			}
		}
		data, _ := resp.Encode()
		_ = m.Respond(data)
	})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	return func() { _ = sub.Unsubscribe() }
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, nil, nil)
}

func do(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestEchoReferenceShape(t *testing.T) {
	r := newRig(t)
	var seen contract.HttpRequest
	var mu sync.Mutex
	_, base := r.serve(t, nil, func(req contract.HttpRequest) (contract.HttpResponse, string, bool) {
		mu.Lock()
		seen = req
		mu.Unlock()
		body, _ := json.Marshal(map[string]any{"method": req.Method, "path": req.Path, "query_string": req.QueryString, "body": []int{}})
		return contract.HttpResponse{StatusCode: 200, Body: body}, "", true
	})
	resp, body := get(t, base+"/")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, `{"body":[],"method":"GET","path":"/","query_string":""}`, string(body))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "GET", seen.Method)
	require.Equal(t, "/", seen.Path)
	require.Equal(t, "", seen.QueryString)
	require.Empty(t, seen.Body)
	require.NotNil(t, seen.Body, "an empty body is empty bin, not nil")
}

func TestRequestResponseMapping(t *testing.T) {
	r := newRig(t)
	var seen contract.HttpRequest
	var mu sync.Mutex
	_, base := r.serve(t, nil, func(req contract.HttpRequest) (contract.HttpResponse, string, bool) {
		mu.Lock()
		seen = req
		mu.Unlock()
		return contract.HttpResponse{
			StatusCode: 201,
			Header: contract.HeaderMap{
				"x-reply":        {"a", "b"},
				"Content-Type":   {"text/plain"},
				"content-length": {"999"},            // recomputed
				"bad header":     {"dropped"},        // invalid name
				"x-newline":      {"evil\r\nX-I: 1"}, // invalid value
			},
			Body: []byte("made " + string(req.Body)),
		}, "", true
	})
	hdr := http.Header{"X-Custom": {"v1", "v2"}, "Content-Type": {"text/plain"}}
	resp, body := do(t, http.MethodPost, base+"/a/b%20c?x=1&y=two%20words", strings.NewReader("payload"), hdr)
	require.Equal(t, 201, resp.StatusCode)
	require.Equal(t, "made payload", string(body))
	require.Equal(t, []string{"a", "b"}, resp.Header.Values("X-Reply"))
	require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	require.Equal(t, "12", resp.Header.Get("Content-Length"))
	require.Empty(t, resp.Header.Values("X-Newline"))
	require.Empty(t, resp.Header.Values("X-I"))

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, "POST", seen.Method)
	require.Equal(t, "/a/b%20c", seen.Path)
	require.Equal(t, "x=1&y=two%20words", seen.QueryString)
	require.Equal(t, "payload", string(seen.Body))
	require.Equal(t, []string{"v1", "v2"}, seen.Header["x-custom"], "header names are lower-cased")
	require.Equal(t, []string{"text/plain"}, seen.Header["content-type"])
	require.Equal(t, []string{strings.TrimPrefix(base, "http://")}, seen.Header["host"])
	for name := range seen.Header {
		require.Equal(t, strings.ToLower(name), name)
	}
}

func TestHeadAndStatusCodes(t *testing.T) {
	r := newRig(t)
	_, base := r.serve(t, nil, func(req contract.HttpRequest) (contract.HttpResponse, string, bool) {
		switch req.Path {
		case "/zero":
			return contract.HttpResponse{Body: []byte("ok")}, "", true
		case "/invalid":
			return contract.HttpResponse{StatusCode: 1000}, "", true
		case "/missing":
			return contract.HttpResponse{StatusCode: 404, Body: []byte("nope")}, "", true
		}
		return contract.HttpResponse{StatusCode: 200, Body: []byte("body")}, "", true
	})
	resp, body := do(t, http.MethodHead, base+"/", nil, nil)
	require.Equal(t, 200, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, "4", resp.Header.Get("Content-Length"))

	resp, body = get(t, base+"/zero")
	require.Equal(t, 200, resp.StatusCode, "status 0 means 200")
	require.Equal(t, "ok", string(body))
	resp, _ = get(t, base+"/invalid")
	require.Equal(t, 500, resp.StatusCode)
	resp, body = get(t, base+"/missing")
	require.Equal(t, 404, resp.StatusCode)
	require.Equal(t, "nope", string(body))
}

func TestActorFailures(t *testing.T) {
	r := newRig(t)
	t.Run("actor error is a 500", func(t *testing.T) {
		_, base := r.serve(t, nil, func(contract.HttpRequest) (contract.HttpResponse, string, bool) {
			return contract.HttpResponse{}, "guest trapped: unreachable", true
		})
		resp, body := get(t, base+"/")
		require.Equal(t, 500, resp.StatusCode)
		require.Contains(t, string(body), "the actor failed")
		require.NotContains(t, string(body), "unreachable", "actor internals stay in the logs")
	})
	t.Run("malformed actor response is a 500", func(t *testing.T) {
		actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
		sub, err := r.nc.Subscribe(r.subj.Actor(actor), func(m *nats.Msg) {
			inv, _ := lattice.DecodeInvocation(m.Data)
			data, _ := (&lattice.InvocationResponse{InvocationID: inv.ID, Msg: []byte{0xc1}}).Encode()
			_ = m.Respond(data)
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		require.True(t, r.link(t, "put", actor, map[string]string{"address": "127.0.0.1:0"}).Accepted)
		addr, _ := r.p.Addr(actor)
		resp, body := get(t, "http://"+addr.String()+"/")
		require.Equal(t, 500, resp.StatusCode)
		require.Contains(t, string(body), "malformed response")
	})
	t.Run("timeout is a 503", func(t *testing.T) {
		_, base := r.serve(t, map[string]string{"address": "127.0.0.1:0", "config_json": `{"timeout_ms":200}`},
			func(contract.HttpRequest) (contract.HttpResponse, string, bool) {
				return contract.HttpResponse{}, "", false
			})
		start := time.Now()
		resp, body := get(t, base+"/")
		require.Equal(t, 503, resp.StatusCode)
		require.Contains(t, string(body), "did not answer in time")
		require.Less(t, time.Since(start), 1500*time.Millisecond, "timeout_ms 200 wins over the 2s lattice default")
	})
	t.Run("actor not running is a 503", func(t *testing.T) {
		_, base := r.serve(t, nil, nil)
		resp, body := get(t, base+"/")
		require.Equal(t, 503, resp.StatusCode)
		require.Contains(t, string(body), "not running")
	})
}

func TestMaxContentLen(t *testing.T) {
	r := newRig(t)
	_, base := r.serve(t, map[string]string{"address": "127.0.0.1:0", "config_json": `{"max_content_len":"1k"}`},
		func(req contract.HttpRequest) (contract.HttpResponse, string, bool) {
			return contract.HttpResponse{StatusCode: 200, Body: []byte(fmt.Sprint(len(req.Body)))}, "", true
		})
	resp, body := do(t, http.MethodPost, base+"/", bytes.NewReader(make([]byte, 1024)), nil)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "1024", string(body))

	resp, body = do(t, http.MethodPost, base+"/", bytes.NewReader(make([]byte, 1025)), nil)
	require.Equal(t, 413, resp.StatusCode)
	require.Contains(t, string(body), "over the limit of 1024")

	// Without Content-Length (chunked), the limit holds while reading.
	resp, _ = do(t, http.MethodPost, base+"/", io.MultiReader(bytes.NewReader(make([]byte, 800)), bytes.NewReader(make([]byte, 800))), nil)
	require.Equal(t, 413, resp.StatusCode)
}

func TestLinkLifecycle(t *testing.T) {
	r := newRig(t)
	port := freePort(t)
	values := map[string]string{"port": fmt.Sprint(port)}
	actor, base := r.serve(t, values, echo)
	require.Equal(t, fmt.Sprintf("http://127.0.0.1:%d", port), base)
	resp, _ := get(t, base+"/")
	require.Equal(t, 200, resp.StatusCode)

	// Delete: the listener closes and the port is free again.
	require.True(t, r.link(t, "del", actor, values).Accepted)
	requireRefused(t, base)
	_, ok := r.p.Addr(actor)
	require.False(t, ok)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err, "the port is free after the link is deleted")
	require.NoError(t, ln.Close())

	// Put again: the listener reopens.
	require.True(t, r.link(t, "put", actor, values).Accepted)
	resp, _ = get(t, base+"/")
	require.Equal(t, 200, resp.StatusCode)

	// Put with the same values: the listener stays (connections keep working).
	require.True(t, r.link(t, "put", actor, values).Accepted)
	resp, _ = get(t, base+"/")
	require.Equal(t, 200, resp.StatusCode)

	// Put with another address: the old one closes, the new one serves.
	port2 := freePort(t)
	require.True(t, r.link(t, "put", actor, map[string]string{"ADDRESS": fmt.Sprintf("127.0.0.1:%d", port2)}).Accepted)
	requireRefused(t, base)
	resp, _ = get(t, fmt.Sprintf("http://127.0.0.1:%d/", port2))
	require.Equal(t, 200, resp.StatusCode)
}

func TestTwoActorsTwoPorts(t *testing.T) {
	r := newRig(t)
	answer := func(name string) actorFunc {
		return func(contract.HttpRequest) (contract.HttpResponse, string, bool) {
			return contract.HttpResponse{StatusCode: 200, Body: []byte(name)}, "", true
		}
	}
	_, baseA := r.serve(t, nil, answer("a"))
	_, baseB := r.serve(t, nil, answer("b"))
	require.NotEqual(t, baseA, baseB)
	for range 3 {
		_, body := get(t, baseA+"/")
		require.Equal(t, "a", string(body))
		_, body = get(t, baseB+"/")
		require.Equal(t, "b", string(body))
	}
}

func TestBindFailures(t *testing.T) {
	r := newRig(t)
	t.Run("port taken by another process", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
		ack := r.link(t, "put", actor, map[string]string{"address": ln.Addr().String()})
		require.False(t, ack.Accepted)
		require.Contains(t, ack.Error, "listen on "+ln.Addr().String())
		require.Contains(t, ack.Error, "address already in use")
		healthy, _ := r.p.Health(context.Background())
		require.True(t, healthy, "one failed link does not make the provider unhealthy")
	})
	t.Run("address served for another actor", func(t *testing.T) {
		first, base := r.serve(t, map[string]string{"port": fmt.Sprint(freePort(t))}, nil)
		actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
		ack := r.link(t, "put", actor, map[string]string{"address": strings.TrimPrefix(base, "http://")})
		require.False(t, ack.Accepted)
		require.Contains(t, ack.Error, "already served for actor "+first)
	})
	t.Run("invalid settings are named", func(t *testing.T) {
		for values, want := range map[string]string{
			`{"config_b64":"%%%"}`:                               "config_b64: not base64",
			`{"config_json":"{\"address\":1"}`:                   "config_json: invalid JSON",
			`{"config_json":"{\"tls\":{\"cert_file\":\"/x\"}}"}`: "both cert_file and priv_key_file",
			`{"port":"eighty"}`:                                  `port "eighty"`,
		} {
			var v map[string]string
			require.NoError(t, json.Unmarshal([]byte(values), &v))
			actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
			ack := r.link(t, "put", actor, v)
			require.False(t, ack.Accepted, values)
			require.Contains(t, ack.Error, "link of actor "+actor)
			require.Contains(t, ack.Error, want)
		}
	})
}

func TestReadonlyAndCacheControl(t *testing.T) {
	r := newRig(t)
	_, base := r.serve(t, map[string]string{"address": "127.0.0.1:0", "config_json": `{"readonly_mode":true,"cache_control":"max-age=60"}`},
		func(req contract.HttpRequest) (contract.HttpResponse, string, bool) {
			if req.Path == "/own" {
				return contract.HttpResponse{StatusCode: 200, Header: contract.HeaderMap{"cache-control": {"no-store"}}}, "", true
			}
			return contract.HttpResponse{StatusCode: 200}, "", true
		})
	resp, _ := get(t, base+"/")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "max-age=60", resp.Header.Get("Cache-Control"))
	resp, _ = get(t, base+"/own")
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the actor's own Cache-Control wins")
	resp, _ = do(t, http.MethodPost, base+"/", strings.NewReader("x"), nil)
	require.Equal(t, 405, resp.StatusCode)
	require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
}

func TestCORS(t *testing.T) {
	r := newRig(t)
	_, base := r.serve(t, map[string]string{"address": "127.0.0.1:0", "config_json": `{"cors":{"allowed_origins":["https://app.example"],"exposed_headers":["x-total"],"max_age_secs":120}}`}, echo)

	resp, _ := do(t, http.MethodOptions, base+"/", nil, http.Header{
		"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"PUT"}, "Access-Control-Request-Headers": {"Content-Type"},
	})
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "PUT")
	require.Equal(t, "120", resp.Header.Get("Access-Control-Max-Age"))

	resp, _ = do(t, http.MethodOptions, base+"/", nil, http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"PATCH"}})
	require.Equal(t, 403, resp.StatusCode, "PATCH is not among the default methods")
	resp, _ = do(t, http.MethodOptions, base+"/", nil, http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"x-secret"}})
	require.Equal(t, 403, resp.StatusCode)

	resp, _ = do(t, http.MethodGet, base+"/", nil, http.Header{"Origin": {"https://evil.example"}})
	require.Equal(t, 403, resp.StatusCode)

	resp, _ = do(t, http.MethodGet, base+"/", nil, http.Header{"Origin": {"https://app.example"}})
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "x-total", resp.Header.Get("Access-Control-Expose-Headers"))

	resp, _ = get(t, base+"/")
	require.Equal(t, 200, resp.StatusCode, "requests without Origin are not CORS requests")
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestTLS(t *testing.T) {
	r := newRig(t)
	cert, key := selfSigned(t)
	cfg := fmt.Sprintf(`{"address":"127.0.0.1:0","tls":{"cert_file":%q,"priv_key_file":%q}}`, cert, key)
	_, base := r.serve(t, map[string]string{"config_b64": base64.StdEncoding.EncodeToString([]byte(cfg))}, echo)
	https := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed test cert
	resp, err := https.Get(strings.Replace(base, "http://", "https://", 1) + "/secure")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.NotNil(t, resp.TLS)
}

func TestShutdownClosesAllListeners(t *testing.T) {
	r := newRig(t)
	_, baseA := r.serve(t, nil, echo)
	_, baseB := r.serve(t, nil, echo)
	msg, err := r.nc.Request(r.subj.ProviderShutdown(r.hd.ProviderKey, "default"), fmt.Appendf(nil, `{"host_id":%q}`, r.hd.HostID), 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, lattice.ShutdownAck, string(msg.Data))
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	requireRefused(t, baseA)
	requireRefused(t, baseB)
}

func TestNoProviderOperations(t *testing.T) {
	_, err := httpserver.New().Handle(context.Background(), providers.Invocation{Operation: "HttpServer.Anything"})
	require.ErrorContains(t, err, `no operation "HttpServer.Anything"`)
}

func requireRefused(t *testing.T, base string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections", base)
	}
	require.True(t, errors.Is(err, syscall.ECONNREFUSED), "dial %s: %v", base, err)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

func TestBigBodyTravelsThroughObjectStore(t *testing.T) {
	r := newRig(t)
	js, err := jetstream.New(r.nc)
	require.NoError(t, err)
	ctx := context.Background()
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: r.subj.ObjectStore()})
	require.NoError(t, err)

	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	// Like a host: a chunked invocation (empty msg, content_length set) is read from the object
	// store under the invocation id.
	sub, err := r.nc.Subscribe(r.subj.Actor(actor), func(m *nats.Msg) {
		inv, _ := lattice.DecodeInvocation(m.Data)
		resp := lattice.InvocationResponse{InvocationID: inv.ID}
		msg := inv.Msg
		var gerr error
		if len(msg) == 0 && inv.ContentLength != nil {
			msg, gerr = obj.GetBytes(ctx, inv.ID)
		}
		if req, derr := contract.DecodeRequest(msg); gerr != nil || derr != nil {
			resp.Error = fmt.Sprint(gerr, derr)
		} else {
			resp.Msg, _ = contract.HttpResponse{StatusCode: 200, Body: []byte(fmt.Sprint(len(req.Body)))}.Encode()
		}
		data, _ := resp.Encode()
		_ = m.Respond(data)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.True(t, r.link(t, "put", actor, map[string]string{"address": "127.0.0.1:0"}).Accepted)
	addr, _ := r.p.Addr(actor)
	big := bytes.Repeat([]byte("x"), 2<<20)
	resp, body := do(t, http.MethodPut, "http://"+addr.String()+"/upload", bytes.NewReader(big), nil)
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, fmt.Sprint(len(big)), string(body))
}
