package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-lattice/trellis/host"
	"github.com/trellis-lattice/trellis/lattice"
)

// Starting from registry references: where `ctl start actor|provider` places the work (an
// auction, as wash does) and how it shows a host's pull while it waits.

// placeFlags choose the host of a start.
type placeFlags struct {
	hostID         string
	constraints    []string
	auctionTimeout millis
}

func (p *placeFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	// -h is wash's --host-id here, so help is --help alone.
	fs.Bool("help", false, "help for "+cmd.Name()+" (-h is --host-id, as in wash)")
	fs.StringVarP(&p.hostID, "host-id", "h", "", "host to start on (default: an auction among the hosts)")
	fs.StringSliceVarP(&p.constraints, "constraint", "c", nil, "KEY=VALUE a host's labels must contain to bid in the auction (repeatable)")
	p.auctionTimeout = millis(time.Second)
	fs.Var(&p.auctionTimeout, "auction-timeout", "how long the auction collects the hosts' bids (duration or milliseconds; wash's --auction-timeout-ms is accepted too)")
}

// place returns the host to start ref on: --host-id; else, for a local file without
// constraints, the lattice's only host (a file path means nothing to a host on another machine);
// else (an OCI reference, a built-in provider) the winner of an auction (actor, or provider when
// linkName is set) among the hosts whose labels contain the constraints, picked at random.
func (p *placeFlags) place(ctx context.Context, s *ctlSession, ref string, provider bool, linkName string) (string, error) {
	what := "start actor " + ref
	if provider {
		what = "start provider " + ref
	}
	constraints, err := parseKeyValues("constraint", cleanList(p.constraints))
	if err != nil {
		return "", err
	}
	if p.hostID != "" {
		if len(constraints) > 0 {
			return "", fmt.Errorf("%s: --host-id and --constraint exclude each other: the constraints choose a host by auction", what)
		}
		return chooseHost(ctx, s, p.hostID, what)
	}
	if _, err := lattice.ParseOCIRef(ref); err != nil && !host.IsBuiltinRef(ref) && len(constraints) == 0 {
		return chooseHost(ctx, s, "", what)
	}
	actx, cancel := context.WithTimeout(ctx, time.Duration(p.auctionTimeout))
	defer cancel()
	var bids []string
	if provider {
		acks, err := s.AuctionProvider(actx, lattice.ProviderAuctionRequest{ProviderRef: ref, LinkName: linkName, Constraints: constraints})
		if err != nil {
			return "", err
		}
		for _, a := range acks {
			bids = append(bids, a.HostID)
		}
	} else {
		acks, err := s.AuctionActor(actx, lattice.ActorAuctionRequest{ActorRef: ref, Constraints: constraints})
		if err != nil {
			return "", err
		}
		for _, a := range acks {
			bids = append(bids, a.HostID)
		}
	}
	if len(bids) > 0 {
		return bids[rand.IntN(len(bids))], nil
	}
	hosts, err := s.hosts(ctx)
	if err != nil {
		return "", err
	}
	if len(hosts) == 0 {
		return "", noHostsError(s)
	}
	why := "no host bid"
	if len(constraints) > 0 {
		why += " with labels " + formatMap(constraints)
	}
	if provider {
		if host.IsBuiltinRef(ref) {
			why += fmt.Sprintf(" (hosts without the built-in %s, or already running it with link name %s, do not bid)", ref, linkName)
		} else {
			why += fmt.Sprintf(" (hosts already running %s with link name %s do not bid)", ref, linkName)
		}
	}
	return "", fmt.Errorf("%s: %s in the auction on lattice %s within %s; the hosts are:\n%s",
		what, why, s.Lattice(), time.Duration(p.auctionTimeout), describeHosts(hosts))
}

// pullProgress shows a host's image_pull_progress events for a start on one line of w: redrawn
// in place on a terminal, at most once a second elsewhere.
type pullProgress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	drawn bool
	seen  lattice.ImagePullProgressData
}

func newPullProgress(w io.Writer) *pullProgress { return &pullProgress{w: w, tty: isTerminal(w)} }

func (p *pullProgress) show(e lattice.CloudEvent) {
	var d lattice.ImagePullProgressData
	if e.DecodeData(&d) != nil {
		return
	}
	p.seen = d
	done := d.Bytes >= d.Total
	if !p.tty && !done && time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	line := p.line()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *pullProgress) line() string {
	d := p.seen
	if d.Cached {
		return fmt.Sprintf("Pulling %s: %s, in the host's cache", d.ImageRef, humanBytes(d.Total))
	}
	return fmt.Sprintf("Pulling %s: %s of %s", d.ImageRef, humanBytes(d.Bytes), humanBytes(d.Total))
}

// end finishes a line drawn in place.
func (p *pullProgress) end() {
	if p != nil && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// status says how far the pull got, for a timeout message.
func (p *pullProgress) status() string {
	if p == nil || p.seen.ImageRef == "" {
		return "no pull progress was reported"
	}
	return "last progress: " + strings.TrimPrefix(p.line(), "Pulling ")
}

// matchProgress reports whether e is a progress event of ref from host.
func matchProgress(e lattice.CloudEvent, host, ref string) bool {
	if e.Source != host || e.Name() != lattice.EventImagePullProgress {
		return false
	}
	var d lattice.ImagePullProgressData
	return e.DecodeData(&d) == nil && d.ImageRef == ref
}
