package latticetest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryOptions configures RunRegistry.
type RegistryOptions struct {
	// Users, when not empty, turns on htpasswd authentication with these user → password pairs;
	// anonymous requests are then refused.
	Users map[string]string
}

// Registry is a real OCI registry (Debian's docker-registry, the distribution v2 server) behind
// a counting reverse proxy, both on 127.0.0.1 and free ports, speaking plain HTTP.
type Registry struct {
	// Addr is host:port of the registry as clients must use it (the proxy).
	Addr string

	t       testing.TB
	cmd     *exec.Cmd
	proxy   *http.Server // nil while down
	handler http.Handler
	backend string
	log     *os.File

	mu    sync.Mutex
	reqs  []RegistryRequest
	delay time.Duration
}

// RegistryRequest is one request the registry served.
type RegistryRequest struct {
	Method, Path string
	Status       int
}

// RunRegistry starts docker-registry with a fresh storage directory and stops it when the test
// ends. Every request is recorded (Requests, BlobGets). A missing docker-registry fails the test
// under CI and skips it elsewhere.
func RunRegistry(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	bin := NeedBinary(t, "docker-registry", "docker-registry")
	dir := t.TempDir()
	port := FreePort(t)
	r := &Registry{t: t, backend: fmt.Sprintf("127.0.0.1:%d", port)}

	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), r.backend)
	if len(opts.Users) > 0 {
		var htpasswd bytes.Buffer
		for user, pass := range opts.Users {
			hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
			if err != nil {
				t.Fatalf("bcrypt: %v", err)
			}
			fmt.Fprintf(&htpasswd, "%s:%s\n", user, hash)
		}
		path := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(path, htpasswd.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: trellis-test\n    path: %s\n", path)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	r.log = logf
	r.cmd = exec.Command(bin, "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() {
		r.stopBackend()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("docker-registry log (last 4 KiB):\n%s", lastBytes(b, 4096))
			}
		}
		_ = logf.Close()
	})

	backendURL := &url.URL{Scheme: "http", Host: r.backend}
	rp := httputil.NewSingleHostReverseProxy(backendURL)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = l.Addr().String()
	r.handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		delay := r.delay
		r.mu.Unlock()
		if delay > 0 && req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
			time.Sleep(delay)
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, req)
		r.mu.Lock()
		r.reqs = append(r.reqs, RegistryRequest{Method: req.Method, Path: req.URL.Path, Status: rec.status})
		r.mu.Unlock()
	})
	r.serve(l)
	t.Cleanup(func() { r.SetDown(true) })

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + r.backend + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("docker-registry on %s did not answer /v2/ within 15s (%v)\n%s", r.backend, err, lastBytes(b, 4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *Registry) stopBackend() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Requests returns how many requests with that method had a path containing pathPart.
func (r *Registry) Requests(method, pathPart string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, q := range r.reqs {
		if q.Method == method && strings.Contains(q.Path, pathPart) {
			n++
		}
	}
	return n
}

// BlobGets returns how many times the blob with this digest was downloaded.
func (r *Registry) BlobGets(digest string) int {
	return r.Requests(http.MethodGet, "/blobs/"+digest)
}

// Log returns every request served so far.
func (r *Registry) Log() []RegistryRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RegistryRequest(nil), r.reqs...)
}

// SetBlobDelay makes every blob download wait d before it starts (a slow registry).
func (r *Registry) SetBlobDelay(d time.Duration) {
	r.mu.Lock()
	r.delay = d
	r.mu.Unlock()
}

// SetDown takes the registry off the network (true: connections to Addr are refused, as for a
// registry that went away) or puts it back on the same address (false).
func (r *Registry) SetDown(down bool) {
	r.mu.Lock()
	proxy := r.proxy
	r.mu.Unlock()
	switch {
	case down && proxy != nil:
		_ = proxy.Close()
		r.mu.Lock()
		r.proxy = nil
		r.mu.Unlock()
	case !down && proxy == nil:
		l, err := net.Listen("tcp", r.Addr)
		if err != nil {
			r.t.Fatalf("registry back on %s: %v", r.Addr, err)
		}
		r.serve(l)
	}
}

func (r *Registry) serve(l net.Listener) {
	srv := &http.Server{Handler: r.handler, ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.proxy = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
