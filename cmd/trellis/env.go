package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flags may fall back to environment variables. A flag registered with withEnv reads, when it is
// not given on the command line, the first variable that is set among TRELLIS_<FLAG>,
// WASMCLOUD_<FLAG> and any extra names (wasmCloud's own spellings, such as
// WASMCLOUD_LATTICE_PREFIX). <FLAG> is the flag name upper-cased with '-' turned into '_'.
// docs/cli.md lists every mapping.

const envAnnotation = "trellis_env"

// withEnv registers the environment fallbacks of flag name on fs and mentions them in its usage.
func withEnv(fs *pflag.FlagSet, name string, extra ...string) {
	up := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	withEnvNames(fs, name, append([]string{"TRELLIS_" + up, "WASMCLOUD_" + up}, extra...)...)
}

// withEnvNames registers exactly the given fallbacks, for flags whose WASMCLOUD_<FLAG> would
// mean something else upstream (wasmCloud's WASMCLOUD_RPC_TIMEOUT was in seconds).
func withEnvNames(fs *pflag.FlagSet, name string, names ...string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("withEnv: no flag " + name)
	}
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	f.Annotations[envAnnotation] = names
	f.Usage += " [env: " + strings.Join(names, ", ") + "]"
}

// envNames returns the fallbacks registered for a flag.
func envNames(f *pflag.Flag) []string { return f.Annotations[envAnnotation] }

// applyEnv sets every flag of cmd that was not given from the first set environment variable of
// its fallbacks. A bad value is an error naming the variable.
func applyEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		for _, name := range envNames(f) {
			v, ok := os.LookupEnv(name)
			if !ok || v == "" {
				continue
			}
			if serr := cmd.Flags().Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment variable %s=%q for --%s: %w", name, v, f.Name, serr)
			}
			return
		}
	})
	return err
}

// lookupEnv returns the value of the first set, non-empty variable among names.
func lookupEnv(names ...string) (string, string, bool) {
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok && v != "" {
			return n, v, true
		}
	}
	return "", "", false
}

// natsURLFromEnv returns the URL of flag nats-url: the flag or its variables when set, else
// nats://HOST:PORT from the first wasmCloud host/port variable pair that is set (such as
// WASMCLOUD_CTL_HOST and WASMCLOUD_CTL_PORT; a missing half is 127.0.0.1 or 4222), else the
// flag's default.
func natsURLFromEnv(cmd *cobra.Command, value string, pairs ...[2]string) string {
	if cmd.Flags().Changed("nats-url") {
		return value
	}
	for _, p := range pairs {
		_, h, hok := lookupEnv(p[0])
		_, port, pok := lookupEnv(p[1])
		if !hok && !pok {
			continue
		}
		if !hok {
			h = "127.0.0.1"
		}
		if !pok {
			port = "4222"
		}
		return "nats://" + h + ":" + port
	}
	return value
}

var (
	ctlHostPort = [2]string{"WASMCLOUD_CTL_HOST", "WASMCLOUD_CTL_PORT"}
	rpcHostPort = [2]string{"WASMCLOUD_RPC_HOST", "WASMCLOUD_RPC_PORT"}
)
