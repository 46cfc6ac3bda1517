package reconciler

// balance decides how many of n go on each eligible host, starting from what the hosts run now
// (cur) so that little moves: hosts that are not eligible get none; while there are too many, the
// host with the most gives one up; while too few, the eligible host with the fewest (not avoided,
// under perHost when perHost > 0) takes one; then, while one host runs two more than another
// that can take one, it gives one up to it. Ties go by host order. The result may add up to less
// than n when the hosts cannot take more.
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
	// Even out: a host that runs two more than another gives it one, so that losing one host
	// costs as little as it can. (The caller starts the moved instance before it stops the old.)
	for {
		most, fewest := "", ""
		for _, h := range eligible {
			if most == "" || t[h] > t[most] {
				most = h
			}
			if !avoid[h] && (perHost == 0 || t[h] < perHost) && (fewest == "" || t[h] < t[fewest]) {
				fewest = h
			}
		}
		if most == "" || fewest == "" || t[most]-t[fewest] <= 1 {
			return t
		}
		t[most]--
		t[fewest]++
	}
}
