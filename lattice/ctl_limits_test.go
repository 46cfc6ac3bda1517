package lattice_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

func TestCutJSON(t *testing.T) {
	type data struct {
		Ref   string            `json:"actor_ref"`
		Error string            `json:"error"`
		Tags  []string          `json:"tags"`
		Vals  map[string]string `json:"values"`
		N     int               `json:"n"`
	}
	small := data{Ref: "ref", Error: "short", N: 7}
	out, cut, err := lattice.CutJSON(small, 1000)
	require.NoError(t, err)
	require.False(t, cut)
	want, _ := json.Marshal(small)
	require.Equal(t, string(want), string(out), "what fits is left as it is")

	big := data{Ref: strings.Repeat("r", 5000), Error: strings.Repeat("é", 3000), Tags: []string{strings.Repeat("t", 4000)},
		Vals: map[string]string{"k": strings.Repeat("v", 2000)}, N: 7}
	for _, max := range []int{8000, 4000, 1000} {
		out, cut, err := lattice.CutJSON(big, max)
		require.NoError(t, err)
		require.True(t, cut)
		require.LessOrEqual(t, len(out), max)
		var got data
		require.NoError(t, json.Unmarshal(out, &got), "still valid JSON")
		require.Equal(t, 7, got.N)
		require.Contains(t, string(out), lattice.CutMarker)
		require.True(t, strings.HasPrefix(got.Ref, "rrrr"), "a cut string keeps its start")
		require.True(t, strings.HasPrefix(got.Error, "éé"))
		require.NotContains(t, got.Error, "\ufffd", "no UTF-8 sequence is split")
	}

	// Nothing but short strings: it cannot fit.
	_, _, err = lattice.CutJSON(map[string]int{"a": 1, "b": 2}, 5)
	require.ErrorContains(t, err, "do not fit in 5 bytes")
}

// Pages of get.links: the first is the wasmCloud 0.x reply when all fit.
func TestLinkListExtensionsAreOmittedWhenAllFit(t *testing.T) {
	b, err := json.Marshal(lattice.LinkList{Links: []lattice.LinkDefinition{}})
	require.NoError(t, err)
	require.Equal(t, `{"links":[]}`, string(b))
}

// FuzzCutJSON: whatever the strings, a cut encoding is valid JSON within the max, or an error.
func FuzzCutJSON(f *testing.F) {
	f.Add("short", strings.Repeat("x", 3000), 500)
	f.Add(strings.Repeat("\u00e9\"\\\n", 900), "", 300)
	f.Add(strings.Repeat("\xff", 2000), "k", 100)
	f.Fuzz(func(t *testing.T, a, b string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		v := map[string]any{"a": a, "list": []any{b, a + b}, "n": 1}
		out, cut, err := lattice.CutJSON(v, max)
		if err != nil {
			return
		}
		if len(out) > max {
			t.Fatalf("%d bytes over the max %d", len(out), max)
		}
		var back map[string]any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if cut && !strings.Contains(string(out), "trellis: cut") {
			t.Fatal("cut without a marker")
		}
	})
}
