//go:build !wasip1

package actor

// noHost stands in for the wasmbus imports outside a wasm build.
type noHost struct{}

func (noHost) call(string, string, string, []byte) ([]byte, error) {
	return nil, ErrNoHost
}

func (noHost) log(string) {}

func init() { host = noHost{} }

var _ hostABI = noHost{}
