package host

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

// An actor instance's linear memory is bounded: by the host's MaxActorMemoryPages, and lower for
// one actor by the start annotation MemoryPagesAnnotation. The bound is enforced through
// wazero's memory allocator hook (experimental.WithMemoryAllocator), given to every
// instantiation: it sees each memory.grow, refuses the one that would pass the limit (the guest
// sees memory.grow fail, -1, as the Wasm spec has it) and remembers that it did, so that the call
// which then fails (a Go guest's runtime dies with "out of memory", most guests trap) is reported
// as stopped at its memory limit and its instance is discarded. wazero's own
// RuntimeConfig.WithMemoryLimitPages refuses the same grow but says nothing to the host, which
// could then only report a trap. A module whose declared minimum is over the limit is refused when
// the actor starts.

// wasmPageSize is the size of a WebAssembly memory page.
const wasmPageSize = 65536

// MaxWasmPages is the most pages a 32-bit WebAssembly memory can have (4 GiB).
const MaxWasmPages = 65536

// DefaultMaxActorMemoryPages is the default of Config.MaxActorMemoryPages: 4096 pages, 256 MiB.
const DefaultMaxActorMemoryPages = 4096

// MemoryPagesAnnotation is the start annotation that sets one actor's memory limit in pages, at
// most the host's; `trellis ctl start actor --max-memory-pages N` sets it.
const MemoryPagesAnnotation = "trellis.dev/max-memory-pages"

// ErrMemoryLimit is wrapped by the error of a call stopped because its instance asked for memory
// over its limit, and by the refusal of a module whose minimum memory is over it.
var ErrMemoryLimit = errors.New("memory limit")

// memoryLimit reads an actor's memory limit from its start annotations: 0 when none is given (the
// host's limit applies). A value that is not a number of pages between 1 and the host's limit is
// refused.
func memoryLimit(annotations map[string]string, hostPages uint32) (uint32, error) {
	v, ok := annotations[MemoryPagesAnnotation]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("annotation %s=%q: want a number of 64 KiB wasm pages above 0", MemoryPagesAnnotation, v)
	}
	if n > uint64(hostPages) {
		return 0, fmt.Errorf("annotation %s=%d: over this host's limit of %d pages (%s; --max-actor-memory-pages)",
			MemoryPagesAnnotation, n, hostPages, pagesSize(hostPages))
	}
	return uint32(n), nil
}

// pagesSize renders a number of pages as a size, e.g. "16 MiB".
func pagesSize(pages uint32) string {
	b := uint64(pages) * wasmPageSize
	if b%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%d KiB", b>>10)
}

// checkMemoryMinimum refuses a module whose memories start over the limit.
func checkMemoryMinimum(cm wazero.CompiledModule, pages uint32) error {
	for name, def := range cm.ExportedMemories() {
		if def.Min() > pages {
			return fmt.Errorf("module memory %q starts at %d pages, over the limit of %d pages (%s): %w",
				name, def.Min(), pages, pagesSize(pages), ErrMemoryLimit)
		}
	}
	return nil
}

// memoryLimiter is the allocator of one instance's memory: it grows it up to limit bytes and
// records the first grow it refused.
type memoryLimiter struct {
	pages   uint32
	limit   uint64
	refused atomic.Uint64 // the size in bytes a refused grow asked for; 0 while none was
}

func newMemoryLimiter(pages uint32) *memoryLimiter {
	return &memoryLimiter{pages: pages, limit: uint64(pages) * wasmPageSize}
}

// Allocate implements experimental.MemoryAllocator.
func (l *memoryLimiter) Allocate(capacity, _ uint64) experimental.LinearMemory {
	return &limitedMemory{l: l, buf: make([]byte, 0, min(capacity, l.limit))}
}

// err is the error of a call made while the limiter refused a grow; nil when it did not.
func (l *memoryLimiter) err() error {
	want := l.refused.Load()
	if want == 0 {
		return nil
	}
	return fmt.Errorf("instance stopped: it asked for %d pages of memory, over its limit of %d pages (%s): %w",
		(want+wasmPageSize-1)/wasmPageSize, l.pages, pagesSize(l.pages), ErrMemoryLimit)
}

// limitedMemory is a linear memory that does not grow past its limiter's limit.
type limitedMemory struct {
	l   *memoryLimiter
	buf []byte
}

// Reallocate implements experimental.LinearMemory: nil refuses the grow.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.l.limit {
		m.l.refused.CompareAndSwap(0, size)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	grown := make([]byte, size, min(max(size, 2*uint64(cap(m.buf))), m.l.limit))
	copy(grown, m.buf)
	m.buf = grown
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() { m.buf = nil }

var (
	_ experimental.MemoryAllocator = (*memoryLimiter)(nil)
	_ experimental.LinearMemory    = (*limitedMemory)(nil)
)

// sameMemory refuses a start that asks for a memory limit (pages, not 0) other than the one the
// running actor's instances have: the pool's instances share one limit.
func sameMemory(a *actor, pages uint32) error {
	if pages == 0 || pages == a.memPages {
		return nil
	}
	have := "this host's limit"
	if a.memPages != 0 {
		have = fmt.Sprintf("%d pages", a.memPages)
	}
	return fmt.Errorf("actor %s already runs here with a memory limit of %s; %s=%d would differ: stop it first to change the limit",
		a.id, have, MemoryPagesAnnotation, pages)
}

// checkDeclaredMemory refuses a module whose memory section declares a memory that starts over
// hostPages, or one that is not exported (as the waPC ABI requires it to be): wazero gives no
// way to read an unexported memory's minimum, which the memory allocator must not refuse.
func checkDeclaredMemory(code []byte, cm wazero.CompiledModule, hostPages uint32) error {
	mins, err := memoryMinimums(code)
	if err != nil {
		return err
	}
	if len(mins) > 0 && len(cm.ExportedMemories()) == 0 {
		return errors.New(`module memory is not exported: a wasmbus/waPC actor exports it as "memory"`)
	}
	for _, m := range mins {
		if m > uint64(hostPages) {
			return fmt.Errorf("module memory starts at %d pages, over this host's limit of %d pages (%s; --max-actor-memory-pages): %w",
				m, hostPages, pagesSize(hostPages), ErrMemoryLimit)
		}
	}
	return nil
}

// memoryMinimums reads the minimum of each memory in a module's memory section (id 5).
func memoryMinimums(code []byte) ([]uint64, error) {
	if len(code) < 8 {
		return nil, errors.New("module too short")
	}
	p := code[8:]
	for len(p) > 0 {
		id := p[0]
		size, n := uleb(p[1:])
		if n == 0 || uint64(len(p)-1-n) < size {
			return nil, errors.New("module: malformed section header")
		}
		body := p[1+n : 1+n+int(size)]
		p = p[1+n+int(size):]
		if id != 5 {
			continue
		}
		count, n := uleb(body)
		if n == 0 {
			return nil, errors.New("module: malformed memory section")
		}
		body = body[n:]
		if count == 0 {
			return nil, nil
		}
		// One memory is all wazero accepts without multi-memory: its minimum is what counts.
		if len(body) == 0 {
			return nil, errors.New("module: malformed memory section")
		}
		m, n := uleb(body[1:]) // after the limits flags
		if n == 0 {
			return nil, errors.New("module: malformed memory section")
		}
		return []uint64{m}, nil
	}
	return nil, nil
}

// uleb reads an unsigned LEB128 number; n is 0 when it is malformed or longer than 10 bytes.
func uleb(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}
