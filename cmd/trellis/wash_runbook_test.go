package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/host/hosttest"
	"github.com/trellis-lattice/trellis/lattice"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
)

// washRunbook is a wasmCloud 0.x operator's runbook, each line as it was typed for wash 0.18:
// the seed walkthrough (start the echo actor and the HTTP server provider, link them), then
// the day-two commands in wash's forms (host first) and its top-level aliases. The test runs it
// against `trellis up` with "wash" replaced by "trellis" and nothing else changed; $NAMES are
// what an operator would have pasted (ids, ports, files). check, when set, asserts the effect.
var washRunbook = []struct {
	line  string
	want  []string // in stdout
	check func(t *testing.T, rb *runbook)
}{
	{line: "wash ctl get hosts -r 127.0.0.1 -p $NATS_PORT", want: []string{"$HOST"}},
	{line: "wash ctl start actor $ECHO_V1 -h $HOST -r 127.0.0.1 -p $NATS_PORT", want: []string{"Actor $ACTOR", "started on host $HOST"}},
	{line: "wash ctl start provider $HTTPSERVER default --host-id $HOST -r 127.0.0.1 -p $NATS_PORT --auction-timeout-ms 2000",
		want: []string{"Provider $PROVIDER", "link name default", "started on host $HOST"}},
	{line: "wash ctl link put $ACTOR $PROVIDER wasmcloud:httpserver ADDRESS=127.0.0.1:$HTTP_PORT -r 127.0.0.1 -p $NATS_PORT",
		want:  []string{"Published link ($ACTOR) <-> ($PROVIDER) for wasmcloud:httpserver"},
		check: func(t *testing.T, rb *runbook) { rb.curlEcho(t) }},
	{line: "wash ctl get links -r 127.0.0.1 -p $NATS_PORT -t 5000", want: []string{"$ACTOR", "$PROVIDER", "ADDRESS=127.0.0.1:$HTTP_PORT"}},
	{line: "wash get inventory $HOST -r 127.0.0.1 -p $NATS_PORT", want: []string{"$ACTOR", "$PROVIDER", "wasmcloud:httpserver"}},
	{line: `wash call $ACTOR HttpServer.HandleRequest '{"method":"GET","path":"/","queryString":"","header":{},"body":""}' -r 127.0.0.1 -p $NATS_PORT --rpc-timeout-ms 60000`,
		want: []string{`{"body":[],"method":"GET","path":"/","query_string":""}`, "statusCode: 200"}},
	{line: "wash ctl scale actor $HOST $ACTOR $ECHO_V1 --count 3 -a deployed-by=runbook -r 127.0.0.1 -p $NATS_PORT",
		want: []string{"Host $HOST accepted to scale actor $ACTOR to 3 instances"},
		check: func(t *testing.T, rb *runbook) {
			rb.eventuallyInventory(t, "3 instances of the echo actor, the 2 new ones annotated", func(inv *lattice.HostInventory) bool {
				if len(inv.Actors) != 1 || len(inv.Actors[0].Instances) != 3 {
					return false
				}
				annotated := 0
				for _, in := range inv.Actors[0].Instances {
					if in.Annotations["deployed-by"] == "runbook" {
						annotated++
					}
				}
				return annotated == 2
			})
			rb.curlEcho(t)
		}},
	{line: "wash ctl update actor $HOST $ACTOR $ECHO_V2 -r 127.0.0.1 -p $NATS_PORT",
		want: []string{"Host $HOST: actor $ACTOR updated from revision 1 to 2 ($ECHO_V2)"},
		check: func(t *testing.T, rb *runbook) {
			rb.eventuallyInventory(t, "the echo actor from its revision 2", func(inv *lattice.HostInventory) bool {
				return len(inv.Actors) == 1 && inv.Actors[0].ImageRef == rb.vars["ECHO_V2"]
			})
			rb.curlEcho(t)
		}},
	{line: "wash stop actor $HOST $ACTOR -r 127.0.0.1 -p $NATS_PORT", want: []string{"Actor $ACTOR stopped on host $HOST"},
		check: func(t *testing.T, rb *runbook) {
			rb.eventuallyInventory(t, "no actor", func(inv *lattice.HostInventory) bool { return len(inv.Actors) == 0 })
		}},
	{line: "wash ctl stop provider $HOST $PROVIDER default wasmcloud:httpserver -r 127.0.0.1 -p $NATS_PORT",
		want: []string{"Provider $PROVIDER (link name default) stopped on host $HOST"},
		check: func(t *testing.T, rb *runbook) {
			rb.eventuallyInventory(t, "no provider", func(inv *lattice.HostInventory) bool { return len(inv.Providers) == 0 })
			require.Eventually(t, func() bool {
				_, _, err := httpGet("http://127.0.0.1:" + rb.vars["HTTP_PORT"] + "/")
				return err != nil
			}, 30*time.Second, 50*time.Millisecond, "the HTTP server still answers after its provider stopped")
		}},
	{line: "wash link del $ACTOR wasmcloud:httpserver -r 127.0.0.1 -p $NATS_PORT", want: []string{"Deleted link of $ACTOR for wasmcloud:httpserver"}},
	{line: "wash ctl link query -r 127.0.0.1 -p $NATS_PORT", want: []string{"No links."}},
}

var regexpHostID = regexp.MustCompile(`Trellis host (N[A-Z2-7]{55}) is up`)

// runbook is the state a runbook runs against.
type runbook struct {
	vars map[string]string
}

func (rb *runbook) expand(s string) string {
	return os.Expand(s, func(k string) string { return rb.vars[k] })
}

func (rb *runbook) curlEcho(t *testing.T) {
	t.Helper()
	status, body := awaitHTTP(t, "http://127.0.0.1:"+rb.vars["HTTP_PORT"]+"/")
	require.Equal(t, 200, status, body)
	require.JSONEq(t, echoReply, body)
}

func (rb *runbook) eventuallyInventory(t *testing.T, what string, ok func(*lattice.HostInventory) bool) {
	t.Helper()
	var last string
	require.Eventually(t, func() bool {
		code, out, errOut := runCLI(t, context.Background(), "ctl", "get", "inventory", rb.vars["HOST"], "-o", "json", "--nats-url", rb.vars["NATS_URL"])
		if code != 0 {
			last = errOut
			return false
		}
		last = out
		var inv lattice.HostInventory
		return json.Unmarshal([]byte(out), &inv) == nil && ok(&inv)
	}, 2*time.Minute, 100*time.Millisecond, "inventory never showed %s; last: %s", what, last)
}

// shellWords splits a command line as sh would for these lines: words separated by spaces,
// single quotes keeping what they enclose.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestWashRunbook runs washRunbook against `trellis up`.
func TestWashRunbook(t *testing.T) {
	useTempKeys(t)
	// Compiling the echo module under -race on a busy machine can take a minute or more; the
	// runbook's lines stay as wash had them, so the wait is raised through the environment.
	t.Setenv("TRELLIS_WAIT_TIMEOUT", "5m")
	keys := hosttest.NewActorKeys(t)
	meta := lattice.ActorMetadata{Name: "echo", Caps: []string{"wasmcloud:httpserver"}}
	module := latticetest.BuildWasm(t, "./actor/examples/echo")
	v1, v2 := keys.Sign(t, module, meta, 1), keys.Sign(t, module, meta, 2)

	dir := t.TempDir()
	natsURL, upOut, _ := startUp(t, natsLine, "--nats-port", "0", "--dashboard-addr", "", "--data-dir", filepath.Join(dir, "data"),
		"--allow-file-load="+filepath.Dir(v1.Path)+","+filepath.Dir(v2.Path), "--log-level", "warn")
	m := regexpHostID.FindStringSubmatch(upOut.String())
	require.NotNil(t, m, upOut.String())
	_, natsPort, err := net.SplitHostPort(strings.TrimPrefix(natsURL, "nats://"))
	require.NoError(t, err)

	rb := &runbook{vars: map[string]string{
		"NATS_URL": natsURL, "NATS_PORT": natsPort, "HOST": m[1],
		"ECHO_V1": v1.Path, "ECHO_V2": v2.Path, "ACTOR": v1.ID,
		"HTTPSERVER": host.BuiltinHTTPServer, "PROVIDER": builtinKey,
		"HTTP_PORT": strconv.Itoa(latticetest.FreePort(t)),
	}}
	for i, step := range washRunbook {
		words, err := shellWords(step.line)
		require.NoError(t, err)
		require.Equal(t, "wash", words[0], "runbook line %d is a wash command", i+1)
		args := make([]string, 0, len(words)-1)
		for _, w := range words[1:] {
			args = append(args, rb.expand(w))
		}
		code, out, errOut := runCLI(t, context.Background(), args...)
		require.Equal(t, 0, code, "line %d: trellis %s\nstdout: %s\nstderr: %s", i+1, strings.Join(args, " "), out, errOut)
		for _, w := range step.want {
			require.Contains(t, out, rb.expand(w), "line %d: %s", i+1, step.line)
		}
		if step.check != nil {
			step.check(t, rb)
		}
	}
}
