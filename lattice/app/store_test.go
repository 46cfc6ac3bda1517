package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/trellis-lattice/trellis/lattice/app"
	"github.com/trellis-lattice/trellis/lattice/latticetest"
	"github.com/trellis-lattice/trellis/lattice/oam"
)

func manifest(t testing.TB, name, version string, replicas int) *oam.Manifest {
	t.Helper()
	ver := ""
	if version != "" {
		ver = fmt.Sprintf("\n  annotations:\n    version: %s", version)
	}
	m, err := oam.Parse(fmt.Appendf(nil, `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: %s%s
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: 127.0.0.1:5000/echo:0.1
      traits:
        - type: spreadscaler
          properties:
            replicas: %d
`, name, ver, replicas))
	require.NoError(t, err)
	return m
}

func openStore(t testing.TB) *app.Store {
	t.Helper()
	js := latticetest.JetStream(t, latticetest.Connect(t, latticetest.RunNATS(t)))
	s, err := app.OpenStore(context.Background(), js, "test", 1)
	require.NoError(t, err)
	return s
}

func TestStoreVersions(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	require.Equal(t, "TRELLIS_APPS_test", s.Bucket())

	res, err := s.Put(ctx, manifest(t, "echo", "v1", 1), "")
	require.NoError(t, err)
	require.Equal(t, app.PutResult{Name: "echo", Version: "v1", Created: true}, res)
	res, err = s.Put(ctx, manifest(t, "echo", "v1", 1), "")
	require.NoError(t, err)
	require.False(t, res.Created, "the same manifest again changes nothing")
	_, err = s.Put(ctx, manifest(t, "echo", "v1", 3), "")
	require.ErrorIs(t, err, app.ErrVersionExists)
	require.ErrorContains(t, err, "give the manifest a new version")
	_, err = s.Put(ctx, manifest(t, "echo", "v2", 2), "")
	require.NoError(t, err)

	r, err := s.Get(ctx, "echo")
	require.NoError(t, err)
	require.Len(t, r.Versions, 2)
	require.Empty(t, r.Deployed)
	require.Nil(t, r.DeployedManifest())
	require.Equal(t, "v2", r.Latest().Version)

	v, err := s.Deploy(ctx, "echo", "")
	require.NoError(t, err)
	require.Equal(t, "v2", v, "no version deploys the latest")
	v, err = s.Deploy(ctx, "echo", "v1")
	require.NoError(t, err)
	require.Equal(t, "v1", v)
	r, err = s.Get(ctx, "echo")
	require.NoError(t, err)
	require.Equal(t, "v1", r.Deployed)
	require.Equal(t, 1, r.DeployedManifest().Spec.Components[0].Traits[0].Scaler.Replicas)
	found, _ := r.Find("v1")
	require.False(t, found.DeployedAt.IsZero())

	_, err = s.Deploy(ctx, "echo", "v9")
	require.ErrorIs(t, err, app.ErrNotFound)
	require.ErrorContains(t, err, "versions: v1, v2")
	_, err = s.Deploy(ctx, "nope", "")
	require.ErrorIs(t, err, app.ErrNotFound)

	require.ErrorIs(t, s.Delete(ctx, "echo", "v1"), app.ErrDeployed)
	require.ErrorIs(t, s.Delete(ctx, "echo", ""), app.ErrDeployed)
	require.NoError(t, s.Delete(ctx, "echo", "v2"))
	require.NoError(t, s.Undeploy(ctx, "echo"))
	require.NoError(t, s.Undeploy(ctx, "echo"), "undeploying what is undeployed is fine")
	require.NoError(t, s.Delete(ctx, "echo", ""))
	_, err = s.Get(ctx, "echo")
	require.ErrorIs(t, err, app.ErrNotFound)

	_, err = s.Get(ctx, "bad name")
	require.ErrorIs(t, err, app.ErrInvalidName)
}

func TestStoreRefusesInvalidManifests(t *testing.T) {
	s := openStore(t)
	m := manifest(t, "echo", "v1", 1)
	m.Spec.Components[0].Properties.Image = ""
	_, err := s.Put(context.Background(), m, "")
	require.ErrorContains(t, err, "image")
	all, err := s.List(context.Background())
	require.NoError(t, err)
	require.Empty(t, all, "nothing stored")
}

// TestStoreUnversionedManifests: without a version a put generates one, and the same manifest
// put again keeps it, so hosts applying the same files at every start add no versions.
func TestStoreUnversionedManifests(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	first, err := s.Put(ctx, manifest(t, "auto", "", 1), "helm/x")
	require.NoError(t, err)
	require.Len(t, first.Version, 26, "a ULID")
	again, err := s.Put(ctx, manifest(t, "auto", "", 1), "helm/x")
	require.NoError(t, err)
	require.Equal(t, first.Version, again.Version)
	require.False(t, again.Created)
	changed, err := s.Put(ctx, manifest(t, "auto", "", 2), "helm/x")
	require.NoError(t, err)
	require.NotEqual(t, first.Version, changed.Version)
	require.True(t, changed.Version > first.Version, "time-ordered: %s after %s", changed.Version, first.Version)
	r, err := s.Get(ctx, "auto")
	require.NoError(t, err)
	require.Len(t, r.Versions, 2)
	require.Equal(t, changed.Version, r.Versions[1].Manifest.Version(), "the version is written into the stored manifest")
}

// TestStoreConcurrentPuts: writers racing on one app lose no version (compare-and-set).
func TestStoreConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Put(ctx, manifest(t, "race", fmt.Sprintf("v%d", i), i), "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	r, err := s.Get(ctx, "race")
	require.NoError(t, err)
	require.Len(t, r.Versions, 20)
}

// TestStoreApply: what a host does with its app directories: deploy what is there, undeploy what
// its owner put before and is gone, leave other owners' apps alone.
func TestStoreApply(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	_, err := s.Put(ctx, manifest(t, "mine", "v1", 1), "")
	require.NoError(t, err)
	_, err = s.Deploy(ctx, "mine", "v1")
	require.NoError(t, err)

	got, err := s.Apply(ctx, []*oam.Manifest{manifest(t, "a", "v1", 1), manifest(t, "b", "v1", 1)}, "helm/r")
	require.NoError(t, err)
	require.Equal(t, []app.Applied{{Name: "a", Version: "v1", Action: "deployed"}, {Name: "b", Version: "v1", Action: "deployed"}}, got)
	got, err = s.Apply(ctx, []*oam.Manifest{manifest(t, "a", "v1", 1), manifest(t, "b", "v1", 1)}, "helm/r")
	require.NoError(t, err)
	require.Equal(t, "unchanged", got[0].Action)

	got, err = s.Apply(ctx, []*oam.Manifest{manifest(t, "a", "v2", 2)}, "helm/r")
	require.NoError(t, err)
	require.Equal(t, []app.Applied{{Name: "a", Version: "v2", Action: "deployed"}, {Name: "b", Version: "v1", Action: "undeployed"}}, got)

	got, err = s.Apply(ctx, nil, "helm/r")
	require.NoError(t, err)
	require.Equal(t, []app.Applied{{Name: "a", Version: "v2", Action: "undeployed"}}, got, "no manifests: everything of the owner goes")
	r, err := s.Get(ctx, "mine")
	require.NoError(t, err)
	require.Equal(t, "v1", r.Deployed, "another owner's app stays")

	_, err = s.Apply(ctx, []*oam.Manifest{manifest(t, "a", "v1", 1), manifest(t, "a", "v2", 1)}, "helm/r")
	require.ErrorContains(t, err, "given twice")
	_, err = s.Apply(ctx, nil, "")
	require.ErrorContains(t, err, "owner is required")
}

func TestStoreStatusAndWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openStore(t)
	var mu sync.Mutex
	var changes []app.Change
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func(c app.Change) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, c)
		})
	}()
	seen := func(match func(app.Change) bool) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range changes {
			if match(c) {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { return seen(func(c app.Change) bool { return c.Synced }) }, 5*time.Second, 10*time.Millisecond)

	_, err := s.Put(ctx, manifest(t, "w", "v1", 1), "")
	require.NoError(t, err)
	st := app.Status{Name: "w", Version: "v1", State: app.StateDeployed, Hosts: []app.HostShare{{HostID: "N1", Ready: true}}}
	require.NoError(t, s.PutStatus(ctx, st))
	got, err := s.Status(ctx, "w")
	require.NoError(t, err)
	require.True(t, got.Ready("N1"))
	require.False(t, got.Ready("N2"))
	all, err := s.Statuses(ctx)
	require.NoError(t, err)
	require.Contains(t, all, "w")

	require.Eventually(t, func() bool {
		return seen(func(c app.Change) bool { return c.Record != nil && c.Name == "w" }) &&
			seen(func(c app.Change) bool { return c.Status != nil && c.Status.State == app.StateDeployed })
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, s.DeleteStatus(ctx, "w"))
	require.Eventually(t, func() bool {
		return seen(func(c app.Change) bool { return c.Deleted && c.Key == app.StatusKeyPrefix+"w" })
	}, 5*time.Second, 10*time.Millisecond)
	_, err = s.Status(ctx, "w")
	require.ErrorIs(t, err, app.ErrNotFound)
	cancel()
	require.NoError(t, <-done)
}
