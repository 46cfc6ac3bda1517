package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// File references: what a host reads when an actor or provider reference is a path.
//
// A path is read only when it lies under one of Config.AllowFileLoad's directories, with its
// symlinks evaluated inside that directory (os.Root): neither "../" nor a symlink leads out. Only
// regular files are read: the type is checked before the file is opened (so a device is never
// opened) and again on the open descriptor, which is opened non-blocking (so a FIFO swapped in
// between cannot block the host). At most Config.MaxArtifactSize bytes are read.
//
// Errors never tell whether a path outside the allowed directories exists: every such path, and
// every symlink that leads out, gets the same "not under a directory this host loads files
// from" error, decided before (or without) looking at anything outside.

// fileLoader reads file references under its directories.
type fileLoader struct {
	dirs []allowedDir
	max  int64
}

// allowedDir is a directory files may be loaded from, as configured (made absolute) and with
// its symlinks evaluated: a path under either form is under it.
type allowedDir struct{ abs, real string }

// openFlags open a file reference without side effects: no waiting for a FIFO's writer, no
// controlling terminal.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// newFileLoader checks the allowed directories: each must exist and be a directory.
func newFileLoader(dirs []string, max int64) (*fileLoader, error) {
	l := &fileLoader{max: max}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("allow file load %s: %w", d, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("allow file load %s: %w", d, err)
		}
		st, err := os.Stat(real)
		if err != nil {
			return nil, fmt.Errorf("allow file load %s: %w", d, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("allow file load %s: not a directory", d)
		}
		l.dirs = append(l.dirs, allowedDir{abs: abs, real: real})
	}
	return l, nil
}

// enabled reports whether any directory is allowed.
func (l *fileLoader) enabled() bool { return len(l.dirs) > 0 }

// dirList is the allowed directories for messages.
func (l *fileLoader) dirList() string {
	out := make([]string, len(l.dirs))
	for i, d := range l.dirs {
		out[i] = d.abs
	}
	return strings.Join(out, ", ")
}

// locate finds the allowed directory path lies under, lexically, and path relative to it.
func (l *fileLoader) locate(path string) (dir, rel string, ok bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", false
	}
	for _, d := range l.dirs {
		for _, base := range []string{d.abs, d.real} {
			if r, err := filepath.Rel(base, abs); err == nil && filepath.IsLocal(r) {
				return base, r, true
			}
		}
	}
	return "", "", false
}

// exists reports whether path names something under an allowed directory, for references that
// may be a file or an OCI reference ("echo.wasm"). Nothing outside is looked at.
func (l *fileLoader) exists(path string) bool {
	dir, rel, ok := l.locate(path)
	if !ok {
		return false
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	_, err = root.Stat(rel)
	return err == nil
}

// errOutside is the one error of a path outside the allowed directories, existing or not.
func (l *fileLoader) errOutside(ref string) error {
	return fmt.Errorf("%s is not under a directory this host loads files from (%s; see --allow-file-load)", ref, l.dirList())
}

// read returns the contents of the regular file at path (ref as the user gave it, for errors),
// refusing paths outside the allowed directories, non-regular files and files over the cap.
func (l *fileLoader) read(ref, path string) ([]byte, error) {
	if !l.enabled() {
		return nil, fmt.Errorf("%s looks like a file path, but this host does not load files (start it with --allow-file-load=DIR)", ref)
	}
	dir, rel, ok := l.locate(path)
	if !ok {
		return nil, l.errOutside(ref)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	defer root.Close()
	st, err := root.Stat(rel)
	if err != nil {
		return nil, l.statError(ref, err)
	}
	if err := l.checkFile(ref, st); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(rel, openFlags, 0)
	if err != nil {
		return nil, l.statError(ref, err)
	}
	defer f.Close()
	st, err = f.Stat() // what was opened, which may not be what was looked at
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	if err := l.checkFile(ref, st); err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+1))
	if _, err := buf.ReadFrom(io.LimitReader(f, l.max+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	if int64(buf.Len()) > l.max {
		return nil, l.errTooLarge(ref, fmt.Sprintf("larger than %d bytes", l.max))
	}
	return buf.Bytes(), nil
}

// statError words a failure to reach path under its allowed directory: missing, not permitted,
// or (a symlink or "..", once evaluated, leading out, and anything else) outside.
func (l *fileLoader) statError(ref string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s: no such file", ref)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied", ref)
	}
	return l.errOutside(ref)
}

// checkFile refuses anything but a regular file of at most the cap.
func (l *fileLoader) checkFile(ref string, st fs.FileInfo) error {
	m := st.Mode()
	if !m.IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file: only regular files are loaded", ref, fileKind(m))
	}
	if st.Size() > l.max {
		return l.errTooLarge(ref, fmt.Sprintf("%d bytes", st.Size()))
	}
	return nil
}

// errTooLarge says that ref, of the size described, is over the cap.
func (l *fileLoader) errTooLarge(ref, size string) error {
	return fmt.Errorf("%s is %s: over this host's limit of %d bytes for an actor or provider archive (--max-artifact-size)", ref, size, l.max)
}

// fileKind names a file mode's type for errors.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "of type " + m.Type().String()
}
