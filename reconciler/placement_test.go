package reconciler

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
		{"keeps what runs", map[string]int{"a": 2, "b": 1}, []string{"a", "b"}, 3, 0, nil, map[string]int{"a": 2, "b": 1}},
		{"evens out", map[string]int{"a": 4}, []string{"a", "b"}, 4, 0, nil, map[string]int{"a": 2, "b": 2}},
		{"a new host takes a share", map[string]int{"a": 2, "b": 2}, []string{"a", "b", "c"}, 4, 0, nil, map[string]int{"a": 1, "b": 2, "c": 1}},
		{"an avoided host is not evened onto", map[string]int{"a": 4}, []string{"a", "b"}, 4, 0, map[string]bool{"b": true}, map[string]int{"a": 4, "b": 0}},
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
