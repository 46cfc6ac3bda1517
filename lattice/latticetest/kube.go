package latticetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kube is a real Kubernetes API server for tests: Debian's etcd and a kube-apiserver built by
// hack/kube-apiserver.sh, both on free loopback ports with their state in a temp dir, stopped when
// the test ends. There is no controller-manager, scheduler or kubelet: objects are stored and
// served (Services get cluster IPs, RBAC is enforced, TokenRequest works) but no pod ever runs.
//
// Authentication is by static bearer tokens (AdminToken is in system:masters) and by
// ServiceAccount tokens, which the server signs with a key made for this run; authorization is
// RBAC only.
type Kube struct {
	// URL is the API server's address, https://127.0.0.1:PORT.
	URL string
	// CA is the PEM certificate of the CA that signed the server's certificate.
	CA []byte
	// AdminToken is a bearer token of the user "admin" in group system:masters.
	AdminToken string
	// Dir holds the certificates, keys, token file, etcd data and both servers' logs.
	Dir string
}

// KubeAPIServerEnv names the environment variable with the path of the kube-apiserver binary.
const KubeAPIServerEnv = "TRELLIS_KUBE_APISERVER"

// KubeAPIServerPath returns where the kube-apiserver binary is looked for: $TRELLIS_KUBE_APISERVER,
// else envtest's $TEST_ASSET_KUBE_APISERVER, else the default output of hack/kube-apiserver.sh
// (the user cache dir's trellis/cluster/bin/kube-apiserver). It does not check that the file exists.
func KubeAPIServerPath() string {
	for _, env := range []string{KubeAPIServerEnv, "TEST_ASSET_KUBE_APISERVER"} {
		if p := os.Getenv(env); p != "" {
			return p
		}
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = filepath.Join(os.TempDir(), "cache")
	}
	return filepath.Join(base, "trellis", "cluster", "bin", "kube-apiserver")
}

// NeedKubeAPIServer returns the path of the kube-apiserver binary. When it is missing the test
// fails under CI (CI=true) and is skipped elsewhere, saying how to build it.
func NeedKubeAPIServer(t testing.TB) string {
	t.Helper()
	path := KubeAPIServerPath()
	if info, err := os.Stat(path); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
		return path
	}
	if p, err := exec.LookPath("kube-apiserver"); err == nil && os.Getenv(KubeAPIServerEnv) == "" {
		return p
	}
	msg := fmt.Sprintf("kube-apiserver not found at %s: build it with `hack/kube-apiserver.sh` "+
		"(a few minutes once, then cached) or set %s to a kube-apiserver 1.31 binary", path, KubeAPIServerEnv)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// RunKube starts etcd and kube-apiserver and waits until the API server is ready (/readyz).
func RunKube(t testing.TB) *Kube {
	t.Helper()
	apiserver := NeedKubeAPIServer(t)
	etcd := os.Getenv("TEST_ASSET_ETCD")
	if etcd == "" {
		etcd = NeedBinary(t, "etcd", "etcd-server")
	}
	dir := t.TempDir()
	k := &Kube{Dir: dir, AdminToken: randomToken(t)}

	etcdURL := runEtcd(t, etcd, dir)

	caPEM, certPEM, keyPEM := serverCertificate(t)
	saKey := privateKeyPEM(t)
	tokens := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", k.AdminToken)
	files := map[string][]byte{
		"ca.crt":     caPEM,
		"server.crt": certPEM,
		"server.key": keyPEM,
		"sa.key":     saKey,
		"tokens.csv": []byte(tokens),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k.CA = caPEM

	port := FreePort(t)
	k.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + filepath.Join(dir, "server.crt"),
		"--tls-private-key-file=" + filepath.Join(dir, "server.key"),
		"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/24",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file=" + filepath.Join(dir, "sa.key"),
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=0",
	}
	logPath := filepath.Join(dir, "kube-apiserver.log")
	stop, exited := startLogged(t, apiserver, args, logPath)
	t.Cleanup(stop)

	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certPool(t, caPEM)}},
	}
	t.Cleanup(client.CloseIdleConnections)
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for {
		req, _ := http.NewRequest(http.MethodGet, k.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+k.AdminToken)
		resp, err := client.Do(req)
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return k
			}
			last = fmt.Sprintf("%s: %s", resp.Status, lastLines(body.String(), 5))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver on %s not ready after 90s (%s); log %s:\n%s", k.URL, last, logPath, tail(logPath))
		}
		select {
		case <-exited:
			t.Fatalf("kube-apiserver exited before it was ready; log %s:\n%s", logPath, tail(logPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kubeconfig returns a kubeconfig for the server that authenticates with token and whose context
// has the given namespace (none when empty).
func (k *Kube) Kubeconfig(token, namespace string) []byte {
	ns := ""
	if namespace != "" {
		ns = "\n    namespace: " + namespace
	}
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: test
  user:
    token: %s
contexts:
- name: test
  context:
    cluster: test
    user: test%s
current-context: test
`, k.URL, base64.StdEncoding.EncodeToString(k.CA), token, ns)
}

// WriteKubeconfig writes Kubeconfig(token, namespace) to a file in a temp dir and returns its path.
func (k *Kube) WriteKubeconfig(t testing.TB, token, namespace string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, k.Kubeconfig(token, namespace), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runEtcd starts a one-member etcd with its data in dir and returns its client URL.
func runEtcd(t testing.TB, bin, dir string) string {
	t.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	args := []string{
		"--name=test",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=test=" + peer,
		"--initial-cluster-state=new",
		"--logger=zap",
		"--log-level=warn",
	}
	logPath := filepath.Join(dir, "etcd.log")
	stop, exited := startLogged(t, bin, args, logPath)
	t.Cleanup(stop)
	deadline := time.Now().Add(30 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		resp, err := hc.Get(client + "/health")
		if err == nil {
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(body.String(), `"true"`) {
				hc.CloseIdleConnections()
				return client
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd on %s not healthy after 30s: %v; log %s:\n%s", client, err, logPath, tail(logPath))
		}
		select {
		case <-exited:
			t.Fatalf("etcd exited before it was healthy; log %s:\n%s", logPath, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startLogged starts bin with its output in logPath and returns a function that stops it (SIGTERM,
// then SIGKILL after 10 s) and a channel closed when it has exited.
func startLogged(t testing.TB, bin string, args []string, logPath string) (func(), <-chan struct{}) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}, exited
}

// serverCertificate makes a CA and a serving certificate for 127.0.0.1 and localhost signed by it.
func serverCertificate(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "trellis-test-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// privateKeyPEM makes the key that signs ServiceAccount tokens.
func privateKeyPEM(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func certPool(t testing.TB, caPEM []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("test CA certificate does not parse")
	}
	return pool
}

func randomToken(t testing.TB) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// tail returns the last lines of a log file, for failure messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return lastLines(string(b), 30)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
