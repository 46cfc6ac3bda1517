package examples_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/contracts/keyvalue"
)

// This test builds the example actors with the Go toolchain for wasip1 and runs them under
// wazero with the minimal wasmbus host below, independently of the Trellis host: it checks
// the guest side of the ABI (PROTOCOL.md §3) end to end.

// buildActor compiles ./name into dir and returns the module bytes.
func buildActor(t *testing.T, dir, name string) []byte {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go toolchain not found: %v", err)
		}
		t.Skipf("go toolchain not on PATH, cannot build the example actors: %v", err)
	}
	out := filepath.Join(dir, name+".wasm")
	cmd := exec.Command(gobin, "build", "-buildmode=c-shared", "-o", out, "./"+name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "build %s: %s", name, msg)
	bin, err := os.ReadFile(out)
	require.NoError(t, err)
	return bin
}

// hostCallFunc answers an actor's __host_call.
type hostCallFunc func(binding, namespace, operation string, msg []byte) ([]byte, error)

// guest is one actor instance and the host-side state of its current invocation.
type guest struct {
	mod       api.Module
	hostCall  hostCallFunc
	op, msg   []byte // what __guest_request hands over
	resp      []byte // from __guest_response
	guestErr  []byte // from __guest_error
	hostResp  []byte // last __host_call result
	hostErr   []byte // last __host_call error
	consoleLn []string
}

// testHost is a wasmbus host module serving every guest in one runtime.
type testHost struct {
	rt     wazero.Runtime
	guests map[string]*guest // by module name
}

func newTestHost(t *testing.T) *testHost {
	t.Helper()
	ctx := context.Background()
	// The interpreter: these modules are a few MB and run a handful of calls, so compiling
	// them costs more than it saves (much more under -race).
	h := &testHost{rt: wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter()), guests: map[string]*guest{}}
	t.Cleanup(func() { _ = h.rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, h.rt)

	mem := func(m api.Module, ptr, n uint32) []byte {
		b, ok := m.Memory().Read(ptr, n)
		if !ok {
			panic(fmt.Sprintf("guest memory read out of range: %d+%d", ptr, n))
		}
		return b
	}
	write := func(m api.Module, ptr uint32, b []byte) {
		if !m.Memory().Write(ptr, b) {
			panic(fmt.Sprintf("guest memory write out of range: %d+%d", ptr, len(b)))
		}
	}
	_, err := h.rt.NewHostModuleBuilder("wasmbus").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, opPtr, msgPtr uint32) {
		g := h.guests[m.Name()]
		write(m, opPtr, g.op)
		write(m, msgPtr, g.msg)
	}).Export("__guest_request").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ptr, n uint32) {
		h.guests[m.Name()].resp = append([]byte{}, mem(m, ptr, n)...)
	}).Export("__guest_response").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ptr, n uint32) {
		h.guests[m.Name()].guestErr = append([]byte{}, mem(m, ptr, n)...)
	}).Export("__guest_error").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, bdPtr, bdLen, nsPtr, nsLen, opPtr, opLen, msgPtr, msgLen uint32) uint32 {
		g := h.guests[m.Name()]
		g.hostResp, g.hostErr = nil, nil
		if g.hostCall == nil {
			g.hostErr = []byte("no host calls in this test")
			return 0
		}
		resp, err := g.hostCall(string(mem(m, bdPtr, bdLen)), string(mem(m, nsPtr, nsLen)),
			string(mem(m, opPtr, opLen)), append([]byte{}, mem(m, msgPtr, msgLen)...))
		if err != nil {
			g.hostErr = []byte(err.Error())
			return 0
		}
		g.hostResp = resp
		return 1
	}).Export("__host_call").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module) uint32 {
		return uint32(len(h.guests[m.Name()].hostResp))
	}).Export("__host_response_len").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ptr uint32) {
		write(m, ptr, h.guests[m.Name()].hostResp)
	}).Export("__host_response").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module) uint32 {
		return uint32(len(h.guests[m.Name()].hostErr))
	}).Export("__host_error_len").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ptr uint32) {
		write(m, ptr, h.guests[m.Name()].hostErr)
	}).Export("__host_error").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, ptr, n uint32) {
		g := h.guests[m.Name()]
		g.consoleLn = append(g.consoleLn, string(mem(m, ptr, n)))
	}).Export("__console_log").
		Instantiate(ctx)
	require.NoError(t, err)
	return h
}

// start instantiates an actor module, running _initialize (and so the handlers' init).
func (h *testHost) start(t *testing.T, name string, bin []byte, hc hostCallFunc) *guest {
	t.Helper()
	g := &guest{hostCall: hc}
	h.guests[name] = g
	mod, err := h.rt.InstantiateWithConfig(context.Background(), bin,
		wazero.NewModuleConfig().WithName(name).WithStartFunctions("_initialize"))
	require.NoError(t, err)
	for _, fn := range []string{"__guest_call", "_initialize"} {
		require.NotNil(t, mod.ExportedFunction(fn), "export %s", fn)
	}
	require.NotNil(t, mod.ExportedMemory("memory"))
	g.mod = mod
	return g
}

// invoke runs one __guest_call. It returns the guest's response, or its guest error.
func (g *guest) invoke(op string, msg []byte) ([]byte, error) {
	g.op, g.msg, g.resp, g.guestErr = []byte(op), msg, nil, nil
	res, err := g.mod.ExportedFunction("__guest_call").Call(context.Background(), uint64(len(op)), uint64(len(msg)))
	if err != nil {
		return nil, fmt.Errorf("trap: %w", err)
	}
	switch res[0] {
	case 1:
		return g.resp, nil
	case 0:
		return nil, errors.New(string(g.guestErr))
	default:
		return nil, fmt.Errorf("__guest_call returned %d", res[0])
	}
}

func (g *guest) handleHTTP(t *testing.T, req httpserver.HttpRequest) httpserver.HttpResponse {
	t.Helper()
	msg, err := req.Encode()
	require.NoError(t, err)
	b, err := g.invoke(httpserver.OpHandleRequest, msg)
	require.NoError(t, err)
	resp, err := httpserver.DecodeResponse(b)
	require.NoError(t, err)
	return resp
}

func TestExamplesUnderWazero(t *testing.T) {
	dir := t.TempDir()
	h := newTestHost(t)

	t.Run("echo", func(t *testing.T) {
		echo := h.start(t, "echo", buildActor(t, dir, "echo"), nil)
		tests := []struct {
			name string
			req  httpserver.HttpRequest
			want string
		}{
			{"GET /", httpserver.HttpRequest{Method: "GET", Path: "/"},
				`{"body":[],"method":"GET","path":"/","query_string":""}`},
			{"body hello", httpserver.HttpRequest{Method: "GET", Path: "/", Body: []byte("hello")},
				`{"body":[104,101,108,108,111],"method":"GET","path":"/","query_string":""}`},
			{"query and path kept as given", httpserver.HttpRequest{Method: "POST", Path: "/a/b",
				QueryString: "x=1&y=<2>", Header: httpserver.HeaderMap{"Accept": {"*/*"}}, Body: []byte{0, 255}},
				`{"body":[0,255],"method":"POST","path":"/a/b","query_string":"x=1&y=<2>"}`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp := echo.handleHTTP(t, tc.req)
				require.Equal(t, uint16(200), resp.StatusCode)
				require.Equal(t, tc.want, string(resp.Body))
			})
		}

		_, err := echo.invoke("Echo.Nope", []byte("x"))
		require.EqualError(t, err, "operation Echo.Nope: no handler registered")
		_, err = echo.invoke(httpserver.OpHandleRequest, []byte{0xc1})
		require.ErrorContains(t, err, "decode http request")
		health, err := echo.invoke("Actor.HealthRequest", []byte{0x80})
		require.NoError(t, err)
		require.Equal(t, "\x81\xa7healthy\xc3", string(health))

		// The instance still serves after errors.
		require.Equal(t, uint16(200), echo.handleHTTP(t, httpserver.HttpRequest{Method: "GET", Path: "/"}).StatusCode)
	})

	t.Run("pinger calls ponger by alias", func(t *testing.T) {
		ponger := h.start(t, "ponger", buildActor(t, dir, "ponger"), nil)
		var calls []string
		pinger := h.start(t, "pinger", buildActor(t, dir, "pinger"),
			func(binding, namespace, operation string, msg []byte) ([]byte, error) {
				calls = append(calls, binding+" "+namespace+" "+operation)
				if namespace != "wasmcloud/ponger" {
					return nil, errors.New("Call alias not found")
				}
				return ponger.invoke(operation, msg)
			})
		resp := pinger.handleHTTP(t, httpserver.HttpRequest{Method: "GET", Path: "/"})
		require.Equal(t, uint16(200), resp.StatusCode)
		require.Equal(t, `{"value":"ping pong"}`, string(resp.Body))

		b, err := pinger.invoke("Pinger.Ping", nil)
		require.NoError(t, err)
		require.Equal(t, `{"value":"ping pong"}`, string(b))
		require.Equal(t, []string{"default wasmcloud/ponger Ponger.Ping", "default wasmcloud/ponger Ponger.Ping"}, calls)

		_, err = ponger.invoke("Pinger.Ping", nil)
		require.EqualError(t, err, "operation Pinger.Ping: no handler registered")
	})

	t.Run("kvcounter", func(t *testing.T) {
		counters := map[string]int32{}
		fail := false
		kv := h.start(t, "kvcounter", buildActor(t, dir, "kvcounter"),
			func(binding, namespace, operation string, msg []byte) ([]byte, error) {
				if fail {
					return nil, errors.New("redis down")
				}
				if binding != "default" || namespace != keyvalue.ContractID || operation != keyvalue.OpIncrement {
					return nil, fmt.Errorf("unexpected call %s %s %s", binding, namespace, operation)
				}
				req, err := keyvalue.DecodeIncrementRequest(msg)
				if err != nil {
					return nil, err
				}
				counters[req.Key] += req.Value
				return keyvalue.Marshal(counters[req.Key])
			})
		tests := []struct {
			path, query string
			want        string
		}{
			{"/", "", `{"counter":1}`},
			{"/", "", `{"counter":2}`},
			{"/a/b", "amount=40", `{"counter":40}`},
			{"/a/b", "x=1&amount=2", `{"counter":42}`},
			{"/a/b", "amount=oops", `{"counter":43}`},
			{"/", "amount=-5", `{"counter":-3}`},
		}
		for _, tc := range tests {
			resp := kv.handleHTTP(t, httpserver.HttpRequest{Method: "GET", Path: tc.path, QueryString: tc.query})
			require.Equal(t, uint16(200), resp.StatusCode, tc.path)
			require.Equal(t, tc.want, string(resp.Body), tc.path+"?"+tc.query)
		}
		require.Equal(t, map[string]int32{"counter::": -3, "counter::a:b": 43}, counters)

		fail = true
		resp := kv.handleHTTP(t, httpserver.HttpRequest{Method: "GET", Path: "/"})
		require.Equal(t, uint16(500), resp.StatusCode)
		require.Equal(t, `{"error":"host call wasmcloud:keyvalue KeyValue.Increment (link \"default\"): redis down"}`, string(resp.Body))
	})
}
