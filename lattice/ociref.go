package lattice

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// OCI media types of wasmCloud artifacts (PROTOCOL.md §8). An actor is an OCI image manifest with
// the actor config and one layer holding the signed module; a provider, the provider config and
// one layer holding the .par.gz.
const (
	MediaTypeActorConfig    = "application/vnd.wasmcloud.actor.archive.config"
	MediaTypeActorLayer     = "application/vnd.module.wasm.content.layer.v1+wasm"
	MediaTypeProviderConfig = "application/vnd.wasmcloud.provider.archive.config"
	MediaTypeProviderLayer  = "application/vnd.wasmcloud.provider.archive.layer.v1+par"
)

// ErrBadOCIRef: a string is not an OCI reference Trellis can pull.
var ErrBadOCIRef = errors.New("invalid OCI reference")

// OCIRef is a parsed OCI reference, REGISTRY/REPOSITORY[:TAG][@DIGEST].
//
// Trellis requires the registry host: a reference without one (`echo:0.1.0`) is refused instead
// of being sent to Docker Hub, as container tools would, because a wasm artifact is almost never
// there and a typo'd file path would otherwise turn into a Docker Hub pull.
type OCIRef struct {
	// Registry is host[:port], e.g. "127.0.0.1:5000" or "ghcr.io".
	Registry string
	// Repository is the path inside the registry, e.g. "wasmcloud/echo".
	Repository string
	// Tag is the tag; "latest" when the reference named neither a tag nor a digest.
	Tag string
	// Digest pins the manifest ("sha256:…"); empty when only a tag was given.
	Digest string
	// TagDefaulted reports that Tag is "latest" only because the reference had no tag.
	TagDefaulted bool
}

// The grammar of github.com/distribution/reference, which registries enforce.
var (
	domainRE    = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::([0-9]+))?$`)
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	hexRE       = regexp.MustCompile(`^[a-f0-9]+$`)
)

// maxNameLength bounds REGISTRY/REPOSITORY, as distribution does.
const maxNameLength = 255

// ParseOCIRef parses an OCI reference such as "127.0.0.1:5000/echo:0.1.0",
// "ghcr.io/org/httpserver:0.16.3" or "registry.example/echo@sha256:…"; an "oci://" prefix is
// allowed. A reference with neither tag nor digest means the tag "latest" (TagDefaulted). Errors
// wrap ErrBadOCIRef and say what is wrong.
func ParseOCIRef(s string) (OCIRef, error) {
	bad := func(format string, args ...any) (OCIRef, error) {
		return OCIRef{}, fmt.Errorf("%w %q: %s", ErrBadOCIRef, s, fmt.Sprintf(format, args...))
	}
	rest := strings.TrimPrefix(s, "oci://")
	if rest == "" {
		return bad("empty")
	}
	if i := strings.IndexFunc(rest, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return bad("contains a space or control character")
	}
	var r OCIRef
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if err := checkDigest(r.Digest); err != nil {
			return bad("digest %q: %v", r.Digest, err)
		}
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return bad("no registry host: write REGISTRY/REPOSITORY:TAG, e.g. 127.0.0.1:5000/%s", rest)
	}
	r.Registry, rest = rest[:slash], rest[slash+1:]
	if !looksLikeHost(r.Registry) {
		return bad("%q is not a registry host (it needs a dot, a port or to be localhost): write REGISTRY/REPOSITORY:TAG", r.Registry)
	}
	if m := domainRE.FindStringSubmatch(r.Registry); m == nil {
		return bad("registry %q: not a host name or address with an optional port", r.Registry)
	} else if m[1] != "" {
		if p, err := strconv.Atoi(m[1]); err != nil || p < 1 || p > 65535 {
			return bad("registry %q: port %s out of range", r.Registry, m[1])
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !tagRE.MatchString(r.Tag) {
			return bad("tag %q: want letters, digits, '_', '.' or '-' (not first), at most 128", r.Tag)
		}
	}
	r.Repository = rest
	if r.Repository == "" {
		return bad("no repository after the registry")
	}
	for _, c := range strings.Split(r.Repository, "/") {
		if componentRE.MatchString(c) {
			continue
		}
		if strings.ToLower(c) != c && componentRE.MatchString(strings.ToLower(c)) {
			return bad("repository %q must be lowercase", r.Repository)
		}
		return bad("repository component %q: want lowercase letters and digits separated by '.', '_', '__' or '-'", c)
	}
	if n := len(r.Registry) + 1 + len(r.Repository); n > maxNameLength {
		return bad("name is %d characters long, at most %d allowed", n, maxNameLength)
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag, r.TagDefaulted = "latest", true
	}
	return r, nil
}

// looksLikeHost is Docker's rule for telling a registry from a first path component.
func looksLikeHost(s string) bool {
	return strings.ContainsAny(s, ".:[") || s == "localhost"
}

// CheckDigest reports what is wrong with a manifest digest as a reference's @DIGEST takes it
// (sha256 or sha512, lowercase hex), as for `reg pull --digest`.
func CheckDigest(d string) error { return checkDigest(d) }

// checkDigest accepts sha256 and sha512 digests in lowercase hex.
func checkDigest(d string) error {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		return errors.New("want ALGORITHM:HEX")
	}
	want := map[string]int{"sha256": 64, "sha512": 128}[alg]
	if want == 0 {
		return fmt.Errorf("algorithm %q: want sha256 or sha512", alg)
	}
	if len(hex) != want || !hexRE.MatchString(hex) {
		return fmt.Errorf("want %d lowercase hex digits after %s:", want, alg)
	}
	return nil
}

// String is the canonical form: REGISTRY/REPOSITORY[:TAG][@DIGEST]; a defaulted tag is written.
func (r OCIRef) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Reference is what to resolve in the repository: the digest when pinned, else the tag.
func (r OCIRef) Reference() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// Latest reports whether the reference floats on the "latest" tag (given or implied) without a
// digest pinning it.
func (r OCIRef) Latest() bool { return r.Digest == "" && r.Tag == "latest" }
