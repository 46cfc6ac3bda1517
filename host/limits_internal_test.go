package host

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice"
)

func TestPageLinks(t *testing.T) {
	links := make([]lattice.LinkDefinition, 50)
	for i := range links {
		links[i] = lattice.LinkDefinition{ID: fmt.Sprintf("L%02d", i), LinkName: "n", Values: map[string]string{"v": strings.Repeat("x", 100)}}
	}
	const max = 1000
	var got []lattice.LinkDefinition
	after, pages := "", 0
	for {
		b, err := pageLinks(links, after, max)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), max)
		var page lattice.LinkList
		require.NoError(t, json.Unmarshal(b, &page))
		require.NotEmpty(t, page.Links)
		require.Equal(t, len(links), page.Total)
		got = append(got, page.Links...)
		pages++
		if page.Next == "" {
			break
		}
		require.Equal(t, got[len(got)-1].ID, page.Next)
		after = page.Next
	}
	require.Equal(t, links, got)
	require.Greater(t, pages, 1)

	// All fit: the plain reply.
	b, err := pageLinks(links[:2], "", 1<<20)
	require.NoError(t, err)
	require.NotContains(t, string(b), `"next"`)
	require.NotContains(t, string(b), `"total"`)

	// A link over the max on its own is listed with its values cut, not left out.
	huge := []lattice.LinkDefinition{{ID: "A", Values: map[string]string{"v": "small"}}, {ID: "HUGE", Values: map[string]string{"v": strings.Repeat("y", 5000)}}}
	b, err = pageLinks(huge, "A", max)
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), max)
	require.Contains(t, string(b), lattice.CutMarker)
	require.Contains(t, string(b), `"HUGE"`)

	// After the last id, or after an id that went meanwhile: the links that sort after it.
	b, err = pageLinks(links, "L49", max)
	require.NoError(t, err)
	require.JSONEq(t, `{"links":[],"total":50}`, string(b))
	b, err = pageLinks(links, "L10x", max)
	require.NoError(t, err)
	var page lattice.LinkList
	require.NoError(t, json.Unmarshal(b, &page))
	require.Equal(t, "L11", page.Links[0].ID)
}

func TestPageClaims(t *testing.T) {
	claims := make([]map[string]string, 30)
	for i := range claims {
		claims[i] = map[string]string{"sub": fmt.Sprintf("M%02d", i), "name": strings.Repeat("n", 100)}
	}
	var got []map[string]string
	after := ""
	for {
		b, err := pageClaims(claims, after, 700)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), 700)
		var page lattice.ClaimsList
		require.NoError(t, json.Unmarshal(b, &page))
		got = append(got, page.Claims...)
		if page.Next == "" {
			break
		}
		require.Equal(t, 30, page.Total)
		after = page.Next
	}
	require.Equal(t, claims, got)
	b, err := pageClaims(claims[:1], "", 700)
	require.NoError(t, err)
	require.JSONEq(t, `{"claims":[{"sub":"M00","name":"`+strings.Repeat("n", 100)+`"}]}`, string(b))
}
