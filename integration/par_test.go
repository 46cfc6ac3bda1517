package integration_test

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"sort"
)

// rewriteArchive writes a .par.gz with the given claims token and targets, after mutate has
// changed each binary.
func rewriteArchive(path, token string, targets map[string][]byte, mutate func([]byte)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	write := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := write("claims.jwt", []byte(token)); err != nil {
		return err
	}
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := append([]byte(nil), targets[n]...)
		mutate(b)
		if err := write(n+".bin", b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
