package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// pingResult is what `reg ping` prints with -o json.
type pingResult struct {
	Registry    string `json:"registry"`
	OK          bool   `json:"ok"`
	Credentials string `json:"credentials"`
	PlainHTTP   bool   `json:"plain_http"`
	ElapsedMS   int64  `json:"elapsed_ms"`
}

func newRegPingCmd() *cobra.Command {
	var (
		f   regFlags
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "ping REGISTRY",
		Short: "Check that a registry answers (GET /v2/) and accepts the credentials",
		Long: `Check that REGISTRY (host[:port]; a URL or a reference works too, its host is taken) serves the
OCI distribution API and lets this client in: GET /v2/ with the credentials push and pull would
use (--user/--password, else OCI_REGISTRY_USER/OCI_REGISTRY_PASSWORD for OCI_REGISTRY, else the
docker config, else anonymous). Exits 1 naming the reason when it is unreachable, plain HTTP
without --insecure, refuses the credentials, or is not a registry.`,
		Example: "  trellis reg ping 127.0.0.1:5000 --insecure\n  trellis reg ping ghcr.io -u me -p $TOKEN",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.registryClient(args[0])
			if err != nil {
				return err
			}
			res, err := c.Ping(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			who := "anonymous"
			if res.Credentials != "" {
				who = "credentials from " + res.Credentials
			}
			if out == outputJSON {
				return writeJSON(cmd.OutOrStdout(), pingResult{Registry: res.Registry, OK: true, Credentials: res.Credentials,
					PlainHTTP: res.PlainHTTP, ElapsedMS: res.Elapsed.Milliseconds()})
			}
			scheme := "https"
			if res.PlainHTTP {
				scheme = "http"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Registry %s answered (%s://%s/v2/, %s, %d ms)\n", res.Registry, scheme, res.Registry, who, res.Elapsed.Milliseconds())
			return nil
		},
	}
	f.registerAuth(cmd.Flags())
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
