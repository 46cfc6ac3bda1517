package reconciler

import (
	"slices"

	"github.com/trellis-lattice/trellis/lattice/oam"
)

// spreadCounts splits total over the spreads by weight (a spread without a weight weighs 100),
// by largest remainder: every spread gets the floor of its share, and what is left goes one by
// one to the spreads with the largest fractional parts, the earlier spread first on ties. The
// counts add up to total.
func spreadCounts(total int, spreads []oam.Spread) []int {
	out := make([]int, len(spreads))
	if len(spreads) == 0 || total <= 0 {
		return out
	}
	weights := make([]int, len(spreads))
	sum := 0
	for i, s := range spreads {
		weights[i] = 100
		if s.Weight != nil {
			weights[i] = max(*s.Weight, 0)
		}
		sum += weights[i]
	}
	if sum == 0 {
		return out
	}
	type rem struct{ i, r int }
	rems := make([]rem, len(spreads))
	given := 0
	for i, w := range weights {
		out[i] = total * w / sum
		rems[i] = rem{i, total * w % sum}
		given += out[i]
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return b.r - a.r })
	for j := 0; given < total; j++ {
		out[rems[j%len(rems)].i]++
		given++
	}
	return out
}

// balance decides how many of n go on each eligible host, starting from what the hosts run now
// (cur) so that nothing moves without need: hosts that are not eligible get none; while there are
// too many, the host with the most gives one up; while too few, the eligible host with the fewest
// (not avoided, under perHost when perHost > 0) takes one. Ties go by host order. The result may
// add up to less than n when the hosts cannot take more.
func balance(cur map[string]int, eligible []string, n, perHost int, avoid map[string]bool) map[string]int {
	t := make(map[string]int, len(eligible))
	sum := 0
	for _, h := range eligible {
		c := cur[h]
		if perHost > 0 {
			c = min(c, perHost)
		}
		t[h] = c
		sum += c
	}
	for sum > n {
		best := ""
		for _, h := range eligible {
			if t[h] == 0 {
				continue
			}
			if best == "" || t[h] > t[best] || t[h] == t[best] && avoid[h] && !avoid[best] {
				best = h
			}
		}
		t[best]--
		sum--
	}
	for sum < n {
		best := ""
		for _, h := range eligible {
			if avoid[h] || perHost > 0 && t[h] >= perHost {
				continue
			}
			if best == "" || t[h] < t[best] {
				best = h
			}
		}
		if best == "" {
			break
		}
		t[best]++
		sum++
	}
	return t
}
