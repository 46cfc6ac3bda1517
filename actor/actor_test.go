package actor

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/contracts/messaging"
)

// withHandlers gives a test its own handler table.
func withHandlers(t *testing.T) {
	t.Helper()
	saved := handlers
	handlers, last = map[string]handler{}, handler{}
	t.Cleanup(func() { handlers, last = saved, handler{} })
}

// fakeHost records host calls and answers them from a table keyed by namespace/operation.
type fakeHost struct {
	calls   []hostCallArgs
	answers map[string]hostAnswer
	logs    []string
}

type hostCallArgs struct{ binding, namespace, operation, msg string }

type hostAnswer struct {
	resp []byte
	err  string
}

func (h *fakeHost) call(binding, namespace, operation string, msg []byte) ([]byte, error) {
	h.calls = append(h.calls, hostCallArgs{binding, namespace, operation, string(msg)})
	a, ok := h.answers[namespace+"/"+operation]
	if !ok {
		return nil, errors.New("Call alias not found")
	}
	if a.err != "" {
		return nil, errors.New(a.err)
	}
	return a.resp, nil
}

func (h *fakeHost) log(msg string) { h.logs = append(h.logs, msg) }

func withHost(t *testing.T, answers map[string]hostAnswer) *fakeHost {
	t.Helper()
	h := &fakeHost{answers: answers}
	saved := host
	host = h
	t.Cleanup(func() { host = saved })
	return h
}

func mustMsgpack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestDispatch(t *testing.T) {
	withHandlers(t)
	Handle("Echo.Echo", func(msg []byte) ([]byte, error) { return msg, nil })
	Handle("Echo.Fail", func([]byte) ([]byte, error) { return nil, errors.New("boom") })
	Handle("Echo.Panic", func([]byte) ([]byte, error) { panic("oops") })

	tests := []struct {
		op, msg string
		want    string
		wantErr string
	}{
		{op: "Echo.Echo", msg: "hi", want: "hi"},
		{op: "Echo.Echo", msg: "", want: ""},
		{op: "Echo.Fail", wantErr: "operation Echo.Fail: boom"},
		{op: "Echo.Panic", wantErr: "operation Echo.Panic: handler panicked: oops"},
		{op: "Echo.Nope", wantErr: "operation Echo.Nope: no handler registered"},
		{op: "", wantErr: "operation : no handler registered"},
		{op: "Actor.HealthRequest", want: "\x81\xa7healthy\xc3"},
	}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			got, err := dispatch(tc.op, []byte(tc.msg))
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

func TestDispatchCopiesForHandlersThatKeepMsg(t *testing.T) {
	withHandlers(t)
	var kept []byte
	Handle("Keep.It", func(msg []byte) ([]byte, error) { kept = msg; return nil, nil })
	var req httpserver.HttpRequest
	HandleHTTP(func(r httpserver.HttpRequest) (httpserver.HttpResponse, error) {
		req = r
		return httpserver.HttpResponse{StatusCode: 200, Body: r.Body}, nil
	})

	// In wasm the input lives in a buffer the next call overwrites: nothing a handler gets may
	// alias it.
	in := []byte("payload")
	_, err := dispatch("Keep.It", in)
	require.NoError(t, err)
	copy(in, "XXXXXXX")
	require.Equal(t, "payload", string(kept))

	msg, err := httpserver.HttpRequest{Method: "PATCH", Path: "/p", QueryString: "q",
		Header: httpserver.HeaderMap{"k": {"v"}}, Body: []byte("b")}.Encode()
	require.NoError(t, err)
	resp, err := dispatch(httpserver.OpHandleRequest, msg)
	require.NoError(t, err)
	wantResp, err := httpserver.HttpResponse{StatusCode: 200, Body: []byte("b")}.Encode()
	require.NoError(t, err)
	require.Equal(t, wantResp, resp)
	for i := range msg {
		msg[i] = 'X'
	}
	require.Equal(t, httpserver.HttpRequest{Method: "PATCH", Path: "/p", QueryString: "q",
		Header: httpserver.HeaderMap{"k": {"v"}}, Body: []byte("b")}, req)
}

func TestDispatchFindsEachHandler(t *testing.T) {
	withHandlers(t)
	for _, op := range []string{"A.B", "Long.OperationNameOverSixteenBytes", "Long.OperationNameOverSixteenBytez", "C.D"} {
		Handle(op, func([]byte) ([]byte, error) { return []byte(op), nil })
	}
	for _, op := range []string{"A.B", "A.B", "Long.OperationNameOverSixteenBytes", "Long.OperationNameOverSixteenBytez", "C.D", "A.B"} {
		got, err := dispatch(op, nil)
		require.NoError(t, err)
		require.Equal(t, op, string(got))
	}
	_, err := dispatch("Long.OperationNameOverSixteenBytex", nil)
	require.EqualError(t, err, "operation Long.OperationNameOverSixteenBytex: no handler registered")
}

type stringer struct{}

func (stringer) String() string { return "stringer" }

func TestPanicText(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"s", "s"}, {errors.New("e"), "e"}, {stringer{}, "stringer"}, {true, "true"}, {-3, "-3"},
		{int8(-8), "-8"}, {int64(1 << 40), "1099511627776"}, {uint16(7), "7"}, {uintptr(9), "9"},
		{1.5, "1.5"}, {float32(0.25), "0.25"}, {struct{}{}, "a panic value that is not a string, error, Stringer or number"},
	} {
		require.Equal(t, tc.want, panicText(tc.v), "%T", tc.v)
		if _, ok := tc.v.(struct{}); !ok {
			require.Equal(t, fmt.Sprint(tc.v), panicText(tc.v), "matches fmt for %T", tc.v)
		}
	}
}

func TestEqual(t *testing.T) {
	base := "HttpServer.HandleRequest.And.Then.Some.More.To.Pass.Sixty.Four.Bytes"
	for n := range len(base) + 1 {
		a := base[:n]
		require.True(t, equal(a, string([]byte(a))), "n=%d", n)
		for i := range n {
			b := []byte(a)
			b[i] ^= 1
			require.False(t, equal(a, string(b)), "n=%d, byte %d", n, i)
		}
	}
	require.False(t, equal("ab", "abc"))
}

func TestHealthDefaultMatchesEncoding(t *testing.T) {
	want := mustMsgpack(t, map[string]bool{"healthy": true})
	require.Equal(t, want, healthyResponse)
}

func TestHandleRejectsDuplicatesAndNil(t *testing.T) {
	withHandlers(t)
	Handle("A.B", func([]byte) ([]byte, error) { return nil, nil })
	require.PanicsWithValue(t, `actor: operation "A.B" registered twice`, func() {
		Handle("A.B", func([]byte) ([]byte, error) { return nil, nil })
	})
	require.Panics(t, func() { Handle("A.C", nil) })
	require.Panics(t, func() { Handle("", func([]byte) ([]byte, error) { return nil, nil }) })
}

func TestHandleHTTP(t *testing.T) {
	withHandlers(t)
	HandleHTTP(func(r httpserver.HttpRequest) (httpserver.HttpResponse, error) {
		if r.Path == "/fail" {
			return httpserver.HttpResponse{}, errors.New("nope")
		}
		return httpserver.HttpResponse{StatusCode: 201, Body: []byte(r.Method + " " + r.Path)}, nil
	})
	req, err := httpserver.HttpRequest{Method: "GET", Path: "/x"}.Encode()
	require.NoError(t, err)
	b, err := dispatch(httpserver.OpHandleRequest, req)
	require.NoError(t, err)
	resp, err := httpserver.DecodeResponse(b)
	require.NoError(t, err)
	require.Equal(t, httpserver.HttpResponse{StatusCode: 201, Header: httpserver.HeaderMap{}, Body: []byte("GET /x")}, resp)

	req, err = httpserver.HttpRequest{Method: "GET", Path: "/fail"}.Encode()
	require.NoError(t, err)
	_, err = dispatch(httpserver.OpHandleRequest, req)
	require.EqualError(t, err, "operation HttpServer.HandleRequest: nope")

	_, err = dispatch(httpserver.OpHandleRequest, []byte{0xc3})
	require.ErrorContains(t, err, "decode http request")
}

func TestHandleMessage(t *testing.T) {
	withHandlers(t)
	var got messaging.SubMessage
	HandleMessage(func(m messaging.SubMessage) error { got = m; return nil })
	in := messaging.SubMessage{Subject: "a", ReplyTo: "b", Body: []byte("c")}
	b, err := in.Encode()
	require.NoError(t, err)
	resp, err := dispatch(messaging.OpHandleMessage, b)
	require.NoError(t, err)
	require.Empty(t, resp)
	require.Equal(t, in, got)
}

func TestHostCalls(t *testing.T) {
	reply, err := messaging.ReplyMessage{Subject: "r", Body: []byte("pong")}.Encode()
	require.NoError(t, err)
	h := withHost(t, map[string]hostAnswer{
		"wasmcloud/ponger/Ponger.Ping":                   {resp: []byte("pong")},
		"wasmcloud:messaging/Messaging.Publish":          {},
		"wasmcloud:messaging/Messaging.Request":          {resp: reply},
		"wasmcloud:builtin:logging/Logging.WriteLog":     {},
		"wasmcloud:builtin:numbergen/NumberGen.Random32": {resp: mustMsgpack(t, uint32(7))},
		"wasmcloud:builtin:numbergen/NumberGen.RandomInRange": {
			resp: mustMsgpack(t, uint32(3))},
		"wasmcloud:builtin:numbergen/NumberGen.GenerateGuid": {
			resp: mustMsgpack(t, "123e4567-e89b-12d3-a456-426655440000")},
		"wasmcloud:keyvalue/KeyValue.Get": {err: "no link"},
	})

	pong, err := CallActor("wasmcloud/ponger", "Ponger.Ping", nil)
	require.NoError(t, err)
	require.Equal(t, "pong", string(pong))

	require.NoError(t, Publish(messaging.PubMessage{Subject: "s", Body: []byte("b")}))
	rep, err := Request(messaging.RequestMessage{Subject: "s", TimeoutMs: 10})
	require.NoError(t, err)
	require.Equal(t, "pong", string(rep.Body))

	require.NoError(t, WriteLog(LevelInfo, "hello"))
	n, err := Random32()
	require.NoError(t, err)
	require.Equal(t, uint32(7), n)
	n, err = RandomInRange(1, 5)
	require.NoError(t, err)
	require.Equal(t, uint32(3), n)
	guid, err := GenerateGuid()
	require.NoError(t, err)
	require.Len(t, guid, 36)

	_, err = HostCall("default", "wasmcloud:keyvalue", "KeyValue.Get", nil)
	var he *HostError
	require.ErrorAs(t, err, &he)
	require.Equal(t, "no link", he.Message)
	require.EqualError(t, err, `host call wasmcloud:keyvalue KeyValue.Get (link "default"): no link`)

	Log("to the console")
	require.Equal(t, []string{"to the console"}, h.logs)

	require.Equal(t, hostCallArgs{"default", "wasmcloud/ponger", "Ponger.Ping", ""}, h.calls[0])
	require.Equal(t, hostCallArgs{"default", "wasmcloud:builtin:logging", "Logging.WriteLog",
		"\x82\xa5level\xa4info\xa4text\xa5hello"}, h.calls[3])
	require.Equal(t, hostCallArgs{"default", "wasmcloud:builtin:numbergen", "NumberGen.RandomInRange",
		"\x82\xa3min\x01\xa3max\x05"}, h.calls[5])
}

func TestNoHostOutsideWasm(t *testing.T) {
	_, err := CallActor("x", "Y.Z", nil)
	require.ErrorIs(t, err, ErrNoHost)
}
