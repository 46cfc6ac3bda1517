package reconciler

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/oam"
)

func weight(w int) *int { return &w }

func TestSpreadCounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		total   int
		spreads []oam.Spread
		want    []int
	}{
		{"one spread takes all", 4, []oam.Spread{{Name: "a"}}, []int{4}},
		{"80/20 of 10", 10, []oam.Spread{{Name: "east", Weight: weight(80)}, {Name: "west", Weight: weight(20)}}, []int{8, 2}},
		{"remainder to the largest fraction", 3, []oam.Spread{{Name: "a", Weight: weight(50)}, {Name: "b", Weight: weight(50)}}, []int{2, 1}},
		{"no weights share equally", 5, []oam.Spread{{Name: "a"}, {Name: "b"}, {Name: "c"}}, []int{2, 2, 1}},
		{"zero total", 0, []oam.Spread{{Name: "a"}}, []int{0}},
		{"70/20/10 of 7", 7, []oam.Spread{{Name: "a", Weight: weight(70)}, {Name: "b", Weight: weight(20)}, {Name: "c", Weight: weight(10)}}, []int{5, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := spreadCounts(tc.total, tc.spreads)
			require.Equal(t, tc.want, got)
			sum := 0
			for _, n := range got {
				sum += n
			}
			require.Equal(t, tc.total, sum)
		})
	}
}

func TestBalance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cur      map[string]int
		eligible []string
		n, cap   int
		avoid    map[string]bool
		want     map[string]int
	}{
		{"fresh start spreads evenly", nil, []string{"a", "b"}, 4, 0, nil, map[string]int{"a": 2, "b": 2}},
		{"keeps what runs", map[string]int{"a": 3, "b": 1}, []string{"a", "b"}, 4, 0, nil, map[string]int{"a": 3, "b": 1}},
		{"a lost host's share goes to the others", map[string]int{"b": 2}, []string{"b", "c"}, 4, 0, nil, map[string]int{"b": 2, "c": 2}},
		{"scale down takes from the fullest", map[string]int{"a": 3, "b": 1}, []string{"a", "b"}, 2, 0, nil, map[string]int{"a": 1, "b": 1}},
		{"not eligible gets none", map[string]int{"x": 2}, []string{"a"}, 2, 0, nil, map[string]int{"a": 2}},
		{"avoided host takes none", nil, []string{"a", "b"}, 2, 0, map[string]bool{"a": true}, map[string]int{"a": 0, "b": 2}},
		{"one per host", nil, []string{"a", "b"}, 3, 1, nil, map[string]int{"a": 1, "b": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, balance(tc.cur, tc.eligible, tc.n, tc.cap, tc.avoid))
		})
	}
}
