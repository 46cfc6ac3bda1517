package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	contract "github.com/trellis-lattice/trellis/lattice/contracts/httpserver"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// startSpy runs `trellis spy args…` until the test ends and returns its output once it says it
// is spying.
func startSpy(t *testing.T, args ...string) (out, errOut *latticetest.SyncBuffer) {
	t.Helper()
	out, errOut = &latticetest.SyncBuffer{}, &latticetest.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"spy"}, args...), out, errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, "spy ended with %d: %s", code, errOut.String())
		case <-time.After(10 * time.Second):
			t.Error("spy did not stop within 10s of Ctrl-C")
		}
	})
	return out, errOut
}

// TestSpyHTTPServer spies on echo while a request goes through the httpserver provider: spy
// shows the invocation from the provider and the reply, decoded, and takes nothing from them.
func TestSpyHTTPServer(t *testing.T) {
	useTempKeys(t)
	l := hosttest.New(t)
	h := l.StartHost()
	echoID := l.StartActor(h, echoSigned(t, "echo", contract.ContractID).Path, 1)
	provider := latticetest.ProviderArchive(t, "./cmd/provider-httpserver", lattice.ProviderMetadata{
		Name: "HTTP Server", CapID: contract.ContractID, Vendor: "Trellis"})
	providerID := l.StartProvider(h, provider.Path, "")
	url := l.NS.ClientURL()

	text, textErr := startSpy(t, echoID, "--nats-url", url)
	js, jsErr := startSpy(t, "echo", "--nats-url", url, "-o", "json") // by name, from the claims
	for _, b := range []*latticetest.SyncBuffer{text, jsErr} {        // with -o json, the header is on stderr
		require.Eventually(t, func() bool { return strings.Contains(b.String(), "Spying on actor "+echoID) },
			10*time.Second, 10*time.Millisecond, "spy never started: %s %s", textErr.String(), jsErr.String())
	}
	require.NotContains(t, js.String(), "Spying", "stdout of -o json is JSON only")

	port := latticetest.FreePort(t)
	l.PutLink(lattice.LinkDefinition{ActorID: echoID, ProviderID: providerID, ContractID: contract.ContractID,
		Values: map[string]string{"ADDRESS": fmt.Sprintf("127.0.0.1:%d", port)}})
	status, body := awaitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/spied?x=1", port))
	require.Equal(t, 200, status, "the actor still answers: spy takes nothing")
	require.Equal(t, `{"body":[],"method":"GET","path":"/spied","query_string":"x=1"}`, body)

	require.Eventually(t, func() bool {
		return strings.Contains(text.String(), "HttpServer.HandleRequest reply")
	}, 10*time.Second, 10*time.Millisecond, "no reply in the spy's output: %s %s", text.String(), textErr.String())
	out := text.String()
	require.Contains(t, out, "HttpServer.HandleRequest <- "+providerID+" (wasmcloud:httpserver, link default)")
	require.Contains(t, out, `"method":"GET"`)
	require.Contains(t, out, `"path":"/spied"`)
	require.Contains(t, out, `"queryString":"x=1"`)
	require.Contains(t, out, `"statusCode":200`)

	var inv, reply map[string]any
	require.Eventually(t, func() bool {
		inv, reply = nil, nil
		sc := bufio.NewScanner(strings.NewReader(js.String()))
		for sc.Scan() {
			var ev map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &ev), sc.Text())
			switch {
			case ev["event"] == "invocation" && inv == nil:
				inv = ev
			case ev["event"] == "reply" && inv != nil && ev["id"] == inv["id"]:
				reply = ev
			}
		}
		return reply != nil
	}, 10*time.Second, 10*time.Millisecond, "no invocation and reply in the JSON spy's output: %s %s", js.String(), jsErr.String())
	require.Equal(t, "HttpServer.HandleRequest", inv["operation"])
	require.Equal(t, "in", inv["direction"])
	require.Equal(t, map[string]any{"public_key": providerID, "contract_id": contract.ContractID, "link_name": "default"}, inv["origin"])
	require.Equal(t, echoID, inv["target"].(map[string]any)["public_key"])
	require.Equal(t, false, inv["chunked"])
	require.Positive(t, inv["size"])
	payload := inv["payload"].(map[string]any)
	require.Equal(t, "GET", payload["method"])
	require.Equal(t, "/spied", payload["path"])
	require.Equal(t, "", reply["error"])
	require.Equal(t, float64(200), reply["payload"].(map[string]any)["statusCode"])
	require.NotContains(t, js.String(), "no_reply")
}

// TestSpyRefused: a user who may not subscribe to the lattice's RPC subjects gets the server's
// refusal and what spy needs, not a silent empty stream.
func TestSpyRefused(t *testing.T) {
	useTempKeys(t)
	ns := latticetest.RunNATSWith(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "viewer", Password: "pw", Permissions: &server.Permissions{
			Subscribe: &server.SubjectPermission{Allow: []string{"wasmbus.evt.>"}},
		}}}
	})
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	code, _, errOut := runCLI(t, context.Background(), "spy", actor, "--nats-url", ns.ClientURL(), "--nats-user", "viewer", "--nats-password", "pw")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "Permissions Violation")
	require.Contains(t, errOut, "spy subscribes to wasmbus.rpc.default.> and _INBOX.>")

	code, _, errOut = runCLI(t, context.Background(), "spy", "nobody", "--nats-url", ns.ClientURL(), "--nats-user", "viewer", "--nats-password", "pw", "--ctl-timeout", "300ms")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "spy nobody: not an actor id (M…)")
}

// FuzzSpyMessage: whatever arrives on the spied subjects is shown or skipped, never a panic.
func FuzzSpyMessage(f *testing.F) {
	actor := "MB2ZQB6ROOMAYBO4ZCTFYWN7YIVBWA3MTKZYAQKJMTIHE2ELLRW2E3ZW"
	inv := &lattice.Invocation{Origin: lattice.Entity{PublicKey: "VB", ContractID: "wasmcloud:httpserver", LinkName: "default"},
		Target: lattice.Entity{PublicKey: actor}, Operation: "HttpServer.HandleRequest", Msg: []byte{0x81, 0xa1, 'a', 0x01}, ID: "1"}
	b, _ := inv.Encode()
	f.Add(b, []byte{0x82, 0xa3, 'm', 's', 'g', 0xc4, 0x00, 0xad, 'i', 'n', 'v', 'o', 'c', 'a', 't', 'i', 'o', 'n', '_', 'i', 'd', 0xa1, '1'})
	f.Add([]byte{0xc1}, []byte{})
	f.Fuzz(func(t *testing.T, request, reply []byte) {
		for _, out := range []outputFormat{outputText, outputJSON} {
			var buf strings.Builder
			sp := newSpy(&buf, out, actor, "_INBOX", time.Minute)
			sp.subscribe = func(string) error { return nil }
			now := time.Now()
			sp.handle(&nats.Msg{Subject: "wasmbus.rpc.default." + actor, Reply: "_INBOX.x.1", Data: request}, now)
			sp.handle(&nats.Msg{Subject: "_INBOX.x.1", Data: reply}, now)
			sp.expire(now.Add(2 * time.Minute))
			require.NoError(t, sp.err)
		}
	})
}

// TestSpyReplyOrder: a reply that overtakes its request (on a NATS cluster) is still shown with
// it; a request without a reply is reported once the reply wait is over; others' replies and
// invocations are not shown.
func TestSpyReplyOrder(t *testing.T) {
	actor := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	provider := lattice.Entity{PublicKey: latticetest.Key(t, lattice.PrefixService).PublicKey(), ContractID: contract.ContractID, LinkName: "default"}
	request := func(id, op string, target string) []byte {
		msg, err := lattice.Marshal(map[string]any{"method": "GET", "path": "/" + id})
		require.NoError(t, err)
		b, err := (&lattice.Invocation{Origin: provider, Target: lattice.Entity{PublicKey: target}, Operation: op, Msg: msg, ID: id}).Encode()
		require.NoError(t, err)
		return b
	}
	response := func(id string) []byte {
		msg, err := lattice.Marshal(map[string]any{"statusCode": 200})
		require.NoError(t, err)
		b, err := (&lattice.InvocationResponse{Msg: msg, InvocationID: id}).Encode()
		require.NoError(t, err)
		return b
	}
	var buf strings.Builder
	sp := newSpy(&buf, outputJSON, actor, "_INBOX", time.Minute)
	sp.subscribe = func(string) error { return nil }
	now := time.Now()
	subject := "wasmbus.rpc.default." + actor
	sp.handle(&nats.Msg{Subject: "_INBOX.a.1", Data: response("1")}, now) // before its request
	sp.handle(&nats.Msg{Subject: subject, Reply: "_INBOX.a.1", Data: request("1", "HttpServer.HandleRequest", actor)}, now.Add(time.Millisecond))
	sp.handle(&nats.Msg{Subject: subject, Reply: "_INBOX.a.2", Data: request("2", "HttpServer.HandleRequest", actor)}, now)
	other := latticetest.Key(t, lattice.PrefixModule).PublicKey()
	sp.handle(&nats.Msg{Subject: "wasmbus.rpc.default." + other, Reply: "_INBOX.a.3", Data: request("3", "Other.Op", other)}, now)
	sp.handle(&nats.Msg{Subject: "_INBOX.a.3", Data: response("3")}, now)
	sp.expire(now.Add(30 * time.Second))
	require.NotContains(t, buf.String(), "no_reply", "not before the reply wait")
	sp.expire(now.Add(2 * time.Minute))
	require.NoError(t, sp.err)

	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &ev), line)
		events = append(events, ev)
	}
	require.Len(t, events, 4, buf.String())
	require.Equal(t, []any{"invocation", "1"}, []any{events[0]["event"], events[0]["id"]})
	require.Equal(t, []any{"reply", "1", float64(200)}, []any{events[1]["event"], events[1]["id"], events[1]["payload"].(map[string]any)["statusCode"]})
	require.Equal(t, []any{"invocation", "2"}, []any{events[2]["event"], events[2]["id"]})
	require.Equal(t, []any{"no_reply", "2"}, []any{events[3]["event"], events[3]["id"]})
	require.Empty(t, sp.early, "kept replies are forgotten after a while")
	require.Zero(t, sp.earlySize)
}
