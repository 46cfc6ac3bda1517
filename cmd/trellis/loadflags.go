package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// fileLoadFlag is --allow-file-load: the directories a host reads actor and provider files
// from, comma-separated or repeated. "true" (and the bare flag) stands for the working
// directory, "false" for none; the first value given replaces the command's default.
type fileLoadFlag struct {
	dirs    []string
	changed bool
}

func (f *fileLoadFlag) Set(v string) error {
	if !f.changed {
		f.dirs, f.changed = nil, true
	}
	for _, d := range strings.Split(v, ",") {
		switch d = strings.TrimSpace(d); strings.ToLower(d) {
		case "":
		case "true":
			f.dirs = append(f.dirs, ".")
		case "false":
			f.dirs = nil
		default:
			f.dirs = append(f.dirs, d)
		}
	}
	return nil
}

func (f *fileLoadFlag) String() string { return strings.Join(f.dirs, ",") }
func (f *fileLoadFlag) Type() string   { return "dirs" }

// registerFileLoad adds --allow-file-load; the bare flag means the working directory.
func registerFileLoad(fs *pflag.FlagSet, f *fileLoadFlag, def, usage string) {
	fs.Var(f, "allow-file-load", usage)
	fl := fs.Lookup("allow-file-load")
	fl.NoOptDefVal = "true"
	fl.DefValue = def
}

// sizeFlag is a size in bytes: a number, optionally with a unit (KiB, MiB, GiB, or K, M, G, as
// powers of 1024; B for bytes).
type sizeFlag int64

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func (s *sizeFlag) String() string { return formatSize(int64(*s)) }
func (s *sizeFlag) Type() string   { return "size" }

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"kib", 10}, {"mib", 20}, {"gib", 30}, {"k", 10}, {"m", 20}, {"g", 30}, {"b", 0}}

func parseSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	shift := uint(0)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = strings.TrimSpace(num), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, optionally with KiB, MiB or GiB", v)
	}
	return n << shift, nil
}

// formatSize writes n with the largest unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n > 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
