package providers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/trellis-lattice/trellis/lattice"
)

// Exit codes of Main.
const (
	ExitOK       = 0 // stopped cleanly: shutdown request, SIGINT or SIGTERM
	ExitError    = 1 // the provider could not run or failed while running
	ExitHostData = 2 // stdin did not hold a valid HostData line
)

// maxHostDataLine bounds the HostData line (links and config_json can be large).
const maxHostDataLine = 16 << 20

// Main is a provider binary's whole main: os.Exit(providers.Main(p, cfg)). It reads the HostData
// line from stdin, logs to stderr (JSON when structured_logging, else console, at log_level),
// stops on SIGINT or SIGTERM, and runs p. cfg.Logger is replaced by that logger. It returns an
// exit code: ExitHostData with a message on stderr naming what is wrong when stdin holds no valid
// HostData, ExitError when Run fails, ExitOK otherwise.
//
// With TRELLIS_PROVIDER_CPUPROFILE=PATH in its environment, the provider writes a CPU profile of
// its whole run to PATH.PID when it stops (to profile the provider's side of the wire path:
// docs/benchmarks.md).
func Main(p Provider, cfg Config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("TRELLIS_PROVIDER_CPUPROFILE"); path != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid())); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				defer f.Close()
				defer pprof.StopCPUProfile()
			}
		}
	}
	return run(ctx, os.Stdin, os.Stderr, p, cfg)
}

func run(ctx context.Context, stdin io.Reader, stderr io.Writer, p Provider, cfg Config) int {
	hd, err := ReadHostData(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "%s provider: %v\n", cfg.name(), err)
		return ExitHostData
	}
	cfg.Logger = NewLogger(stderr, *hd)
	if err := Run(ctx, *hd, p, cfg); err != nil {
		cfg.Logger.Error().Err(err).Msg("provider failed")
		fmt.Fprintf(stderr, "%s provider: %v\n", cfg.name(), err)
		return ExitError
	}
	return ExitOK
}

// ReadHostData reads the one line a host writes to a provider's stdin (standard base64 of the
// HostData JSON) and decodes and validates it. A line without the final newline is accepted at
// end of input.
func ReadHostData(r io.Reader) (*lattice.HostData, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxHostDataLine {
			return nil, fmt.Errorf("host data: line longer than %d bytes", maxHostDataLine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(strings.TrimSpace(string(line))) == 0 {
				return nil, errors.New("host data: stdin closed before the host data line: a provider expects one line of base64 JSON on stdin")
			}
			break
		}
		return nil, fmt.Errorf("host data: read stdin: %w", err)
	}
	return lattice.DecodeHostData(line)
}

// NewLogger returns the logger HostData asks for, writing to w: JSON lines when
// structured_logging, else console text; at log_level (trace, debug, info, warn, error; default
// info; upstream's names such as WARNING or CRITICAL are understood).
func NewLogger(w io.Writer, hd lattice.HostData) zerolog.Logger {
	out := w
	if !hd.StructuredLogging {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: true}
	}
	lvl, known := parseLevel(hd.LogLevel)
	log := zerolog.New(out).Level(lvl).With().Timestamp().Logger()
	if !known {
		log.Warn().Str("log_level", hd.LogLevel).Msg("unknown log level; logging at info")
	}
	return log
}

func parseLevel(s string) (zerolog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return zerolog.InfoLevel, true
	case "trace":
		return zerolog.TraceLevel, true
	case "debug":
		return zerolog.DebugLevel, true
	case "info":
		return zerolog.InfoLevel, true
	case "warn", "warning":
		return zerolog.WarnLevel, true
	case "error":
		return zerolog.ErrorLevel, true
	case "critical", "crit", "fatal":
		return zerolog.FatalLevel, true
	case "off", "none", "disabled":
		return zerolog.Disabled, true
	}
	return zerolog.InfoLevel, false
}
