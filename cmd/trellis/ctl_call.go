package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/lattice"
)

func newCtlCallCmd(f *ctlFlags) *cobra.Command {
	var (
		data    string
		timeout millis
		out     outputFormat
	)
	cmd := &cobra.Command{
		Use:   "call ACTOR_ID OPERATION [JSON]",
		Short: "Invoke an operation on an actor with a JSON payload (sent as msgpack) and print the reply",
		Long: `Invoke OPERATION on the actor ACTOR_ID, like "wash call". The JSON payload (an argument or
--data FILE) is converted to msgpack: objects become maps (keys sorted), strings str, numbers
the smallest int or a float64, null nil. JSON has no bytes: send a string where the actor
expects bytes (an HTTP body); the actor decodes it as bytes. The invocation is signed with the
lattice's cluster seed (--cluster-seed, else the keystore's <lattice>_cluster.nk).

The reply is decoded as msgpack and printed one "field: value" line per field; bytes that are
valid UTF-8 are printed as text. -o json prints the decoded reply as JSON.`,
		Example: `  trellis ctl call MB… HttpServer.HandleRequest '{"method":"GET","path":"/","queryString":"","header":{},"body":""}'`,
		Args:    cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			actor, op := args[0], args[1]
			if err := lattice.CheckPublicKey(lattice.PrefixModule, actor); err != nil {
				return fmt.Errorf("actor id: %w", err)
			}
			var payload []byte
			switch {
			case len(args) == 3 && data != "":
				return fmt.Errorf("give the payload as an argument or with --data, not both")
			case len(args) == 3:
				payload = []byte(args[2])
			case data != "":
				b, err := os.ReadFile(data)
				if err != nil {
					return fmt.Errorf("--data: %w", err)
				}
				payload = b
			}
			var msg []byte
			if strings.TrimSpace(string(payload)) != "" {
				var err error
				if msg, err = jsonToMsgpack(payload); err != nil {
					return fmt.Errorf("call %s %s: %w", actor, op, err)
				}
			}
			s, err := f.connect(cmd, true)
			if err != nil {
				return err
			}
			defer s.close()
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, time.Duration(timeout))
				defer cancel()
			}
			ctx, end, err := traceCall(ctx, cmd.ErrOrStderr(), actor, op)
			if err != nil {
				return err
			}
			reply, err := s.Call(ctx, actor, op, msg)
			end(err)
			if err != nil {
				return err
			}
			return printCallReply(cmd, out, reply)
		},
	}
	cmd.Flags().StringVarP(&data, "data", "d", "", "file holding the JSON payload")
	timeout = millis(5 * time.Second)
	cmd.Flags().Var(&timeout, "rpc-timeout", "how long to wait for the reply (duration or milliseconds)")
	withEnvNames(cmd.Flags(), "rpc-timeout", "TRELLIS_RPC_TIMEOUT", "WASMCLOUD_RPC_TIMEOUT_MS")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func printCallReply(cmd *cobra.Command, out outputFormat, reply []byte) error {
	w := cmd.OutOrStdout()
	if len(reply) == 0 {
		if out == outputJSON {
			_, err := fmt.Fprintln(w, "null")
			return err
		}
		_, err := fmt.Fprintln(w, "(empty reply)")
		return err
	}
	v, err := msgpackToJSON(reply)
	if err != nil {
		// Not msgpack: show what came back rather than nothing.
		if out == outputJSON {
			return writeJSON(w, map[string]any{"raw": binValue(reply), "error": err.Error()})
		}
		raw, _ := formatScalar(binValue(reply))
		fmt.Fprintf(w, "%s\n(%v)\n", raw, err)
		return nil
	}
	if out == outputJSON {
		b, err := marshalCompact(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	text, err := formatCallText(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, text)
	return err
}
