package host

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// runtime owns the wazero runtime shared by every actor of a host, with the waPC host functions
// under both import modules ("wasmbus" and "wapc") and WASI preview1, and the watchdog that
// stops guest calls at their deadline.
//
// What bounds a guest that does not return: the runtime is built WithCloseOnContextDone, so
// wazero 1.12's compiler makes every loop header exit to Go to check whether the module was
// closed. Function entries are not checked: a guest recursing without end traps on its stack
// limit, but a long loop-free call tree (a naive recursive fib) runs until it returns, late;
// its call then reports the deadline and the instance is discarded. The guest is called with
// the instance's guestCtx, done only once the watchdog stopped the call; wazero then closes the
// module on its own asynchronous path and the call returns at its next loop header. (wazero
// 1.12 still starts a goroutine per call to watch that context; with the caller's context it
// would also make the timer's channel and values context per call.)
type runtime struct {
	r     wazero.Runtime
	cache wazero.CompilationCache
	dog   *watchdog
	// mu is held for writing while a module compiles and for reading while one instantiates:
	// wazero 1.12 rewrites a cached module's entry preambles when the same module is compiled
	// again, which races with instantiating it (seen under -race with two starts of one module).
	mu sync.RWMutex
	// maxPages bounds every instance's memory (memory.go); an actor may have a lower limit.
	maxPages uint32
}

// callKey carries the *call of a guest call through the context to the host functions.
type callKey struct{}

// call is the state of one guest call: what the host hands in and what the guest hands back.
type call struct {
	op, msg   []byte
	guestResp []byte
	guestErr  []byte
	hostResp  []byte
	hostErr   []byte
	// hostCall routes __host_call; set by the actor the call runs in.
	hostCall func(ctx context.Context, binding, namespace, operation string, msg []byte) ([]byte, error)
	log      func(string)
	// ctx is the caller's context (its deadline and values), which __host_call passes on: the
	// guest itself runs under the instance's guestCtx.
	ctx context.Context
}

func newRuntime(ctx context.Context, h *Host) (*runtime, error) {
	dir := h.cfg.CacheDir
	if dir == "" {
		dir = filepath.Join(h.cfg.DataDir, "wazero")
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wasm compilation cache: %w", err)
	}
	rt, err := openRuntime(ctx, cache, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	if err != nil {
		return nil, err
	}
	rt.maxPages = h.cfg.MaxActorMemoryPages
	return rt, nil
}

// openRuntime builds the runtime on cache with the given wazero config; the runtime owns cache.
func openRuntime(ctx context.Context, cache wazero.CompilationCache, cfg wazero.RuntimeConfig) (*runtime, error) {
	r := wazero.NewRuntimeWithConfig(ctx, cfg.WithCompilationCache(cache))
	rt := &runtime{r: r, cache: cache, dog: newWatchdog(watchdogPeriod), maxPages: DefaultMaxActorMemoryPages}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		rt.close()
		return nil, fmt.Errorf("wasi: %w", err)
	}
	for _, name := range []string{"wasmbus", "wapc"} {
		if err := instantiateHostModule(ctx, r, name); err != nil {
			rt.close()
			return nil, fmt.Errorf("host module %s: %w", name, err)
		}
	}
	return rt, nil
}

func (rt *runtime) close() {
	rt.dog.stop()
	ctx := context.Background()
	_ = rt.r.Close(ctx)
	_ = rt.cache.Close(ctx)
}

// compile checks the module's exports and compiles it (from the on-disk cache when seen before).
func (rt *runtime) compile(ctx context.Context, module []byte) (wazero.CompiledModule, error) {
	rt.mu.Lock()
	cm, err := rt.r.CompileModule(ctx, module)
	rt.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	if err := checkDeclaredMemory(module, cm, rt.maxPages); err != nil {
		_ = cm.Close(ctx)
		return nil, err
	}
	exports := cm.ExportedFunctions()
	if _, ok := exports["__guest_call"]; !ok {
		_ = cm.Close(ctx)
		return nil, errors.New("module does not export __guest_call: not a wasmbus/waPC actor")
	}
	for name, imp := range cm.ImportedFunctions() {
		mod, fn, _ := imp.Import()
		switch mod {
		case "wasmbus", "wapc", wasi_snapshot_preview1.ModuleName:
		default:
			_ = cm.Close(ctx)
			return nil, fmt.Errorf("module imports %s.%s (import %d), which this host does not provide", mod, fn, name)
		}
	}
	return cm, nil
}

// initFunctions run once per instance, in this order, when exported.
var initFunctions = []string{"_initialize", "wapc_init", "start", "_start"}

// instance is one instantiated actor module; it runs one call at a time.
type instance struct {
	mod       api.Module
	guestCall api.Function
	dog       *watchdog
	ctx       guestCtx
	stack     [2]uint64 // __guest_call's params, then its result
	// deadline is the watchdog's word on the call in flight: 0 when none, its deadline in Unix
	// nanoseconds, or deadlineStopped once the watchdog stopped it (see watchdog).
	deadline atomic.Int64
	// stopped is set when the watchdog stopped a call, or a call failed at the memory limit: the
	// instance is not reused.
	stopped atomic.Bool
	// mem bounds the instance's memory and says when it refused a grow.
	mem *memoryLimiter
}

// guestCtx is the context an instance's guest calls run under. It has no deadline and is done
// only once the watchdog stopped the instance's call; its values are the call's (under callKey)
// and those of the caller's context.
type guestCtx struct {
	done chan struct{} // closed by stopCall, once
	c    *call         // the call in flight; set and read by the call's goroutine only
}

func (g *guestCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (g *guestCtx) Done() <-chan struct{}       { return g.done }

func (g *guestCtx) Err() error {
	select {
	case <-g.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (g *guestCtx) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return g.c
	}
	if g.c != nil && g.c.ctx != nil {
		return g.c.ctx.Value(key)
	}
	return nil
}

func (g *guestCtx) stopCall() { close(g.done) }

// instantiate makes an instance of cm whose memory is bounded to pages (0: the runtime's limit).
func (rt *runtime) instantiate(ctx context.Context, cm wazero.CompiledModule, stderr io.Writer, pages uint32) (*instance, error) {
	if pages == 0 || pages > rt.maxPages {
		pages = rt.maxPages
	}
	if err := checkMemoryMinimum(cm, pages); err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	mem := newMemoryLimiter(pages)
	ctx = experimental.WithMemoryAllocator(ctx, mem)
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithRandSource(rand.Reader).
		WithSysWalltime().
		WithSysNanotime().
		// No WithSysNanosleep: the Go runtime in a guest calls poll_oneoff to idle between
		// goroutine switches, and real sleeps there cost hundreds of microseconds per call.
		WithStdout(stderr).
		WithStderr(stderr)
	mod, err := rt.r.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	exported := cm.ExportedFunctions()
	for _, name := range initFunctions {
		if _, ok := exported[name]; !ok {
			continue
		}
		if _, err := mod.ExportedFunction(name).Call(ctx); err != nil {
			var exit *sys.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 0 && !mod.IsClosed() {
				continue
			}
			_ = mod.Close(ctx)
			if merr := mem.err(); merr != nil {
				err = merr
			}
			return nil, fmt.Errorf("init function %s: %w", name, err)
		}
		if mod.IsClosed() {
			return nil, fmt.Errorf("init function %s exited the module", name)
		}
	}
	in := &instance{mod: mod, guestCall: mod.ExportedFunction("__guest_call"), dog: rt.dog, mem: mem}
	in.ctx.done = make(chan struct{})
	rt.dog.add(in)
	return in, nil
}

// invoke runs one guest call, stopped by the watchdog when it runs past ctx's deadline (a ctx
// cancelled without a deadline does not stop a running guest). A guest error is returned as
// *guestError; a call stopped at its deadline wraps context.DeadlineExceeded, and its instance
// is broken from then on.
func (in *instance) invoke(ctx context.Context, c *call) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("call not started: %w", err)
	}
	c.ctx = ctx
	in.ctx.c = c
	deadline, bounded := ctx.Deadline()
	if bounded {
		in.dog.start(in, deadline)
	}
	in.stack[0], in.stack[1] = uint64(len(c.op)), uint64(len(c.msg))
	in.mem.refused.Store(0) // a grow refused in an earlier call that the guest survived
	err := in.guestCall.CallWithStack(&in.ctx, in.stack[:])
	in.ctx.c = nil
	if bounded && in.dog.end(in) {
		in.stopped.Store(true)
		if err != nil {
			return nil, fmt.Errorf("call stopped at its deadline: %w", context.DeadlineExceeded)
		}
		// The guest returned before it was stopped: its result stands.
	}
	failed := err != nil || uint32(in.stack[0]) != 1
	if merr := in.mem.err(); merr != nil && failed {
		// The guest failed after a grow was refused: it is stopped at its memory limit.
		in.stopped.Store(true)
		return nil, merr
	}
	if err != nil {
		return nil, fmt.Errorf("guest trapped: %w", err)
	}
	if uint32(in.stack[0]) == 1 {
		if c.guestResp == nil {
			return []byte{}, nil
		}
		return c.guestResp, nil
	}
	if len(c.guestErr) > 0 {
		return nil, &guestError{msg: string(c.guestErr)}
	}
	return nil, &guestError{msg: "guest call failed without an error message"}
}

func (in *instance) close(ctx context.Context) {
	in.dog.remove(in)
	_ = in.mod.Close(ctx)
}

// broken reports whether the instance must not run another call: its module was closed (the
// guest exited) or the watchdog stopped a call in it.
func (in *instance) broken() bool { return in.stopped.Load() || in.mod.IsClosed() }

// guestError is an error the actor itself returned.
type guestError struct{ msg string }

func (e *guestError) Error() string { return e.msg }

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

func readMem(m api.Module, ptr, n uint64) ([]byte, bool) {
	b, ok := m.Memory().Read(uint32(ptr), uint32(n))
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// instantiateHostModule exports the waPC host functions under the given module name.
func instantiateHostModule(ctx context.Context, r wazero.Runtime, name string) error {
	i32 := api.ValueTypeI32
	b := r.NewHostModuleBuilder(name)
	fn := func(export string, f api.GoModuleFunc, params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(f, params, results).Export(export)
	}
	fn("__guest_request", func(ctx context.Context, m api.Module, stack []uint64) {
		c := callFrom(ctx)
		if c == nil {
			return
		}
		m.Memory().Write(uint32(stack[0]), c.op)
		m.Memory().Write(uint32(stack[1]), c.msg)
	}, []api.ValueType{i32, i32}, nil)
	fn("__guest_response", func(ctx context.Context, m api.Module, stack []uint64) {
		if c := callFrom(ctx); c != nil {
			c.guestResp, _ = readMem(m, stack[0], stack[1])
		}
	}, []api.ValueType{i32, i32}, nil)
	fn("__guest_error", func(ctx context.Context, m api.Module, stack []uint64) {
		if c := callFrom(ctx); c != nil {
			c.guestErr, _ = readMem(m, stack[0], stack[1])
		}
	}, []api.ValueType{i32, i32}, nil)
	fn("__host_call", func(ctx context.Context, m api.Module, stack []uint64) {
		c := callFrom(ctx)
		if c == nil {
			stack[0] = 0
			return
		}
		c.hostResp, c.hostErr = nil, nil
		bd, ok1 := readMem(m, stack[0], stack[1])
		ns, ok2 := readMem(m, stack[2], stack[3])
		op, ok3 := readMem(m, stack[4], stack[5])
		msg, ok4 := readMem(m, stack[6], stack[7])
		if !ok1 || !ok2 || !ok3 || !ok4 {
			c.hostErr = []byte("host call: pointer out of memory bounds")
			stack[0] = 0
			return
		}
		if c.ctx != nil {
			ctx = c.ctx // the caller's deadline and values, not the guest's context
		}
		resp, err := c.hostCall(ctx, string(bd), string(ns), string(op), msg)
		if err != nil {
			c.hostErr = []byte(err.Error())
			stack[0] = 0
			return
		}
		c.hostResp = resp
		stack[0] = 1
	}, []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32})
	fn("__host_response_len", func(ctx context.Context, m api.Module, stack []uint64) {
		stack[0] = 0
		if c := callFrom(ctx); c != nil {
			stack[0] = uint64(len(c.hostResp))
		}
	}, nil, []api.ValueType{i32})
	fn("__host_response", func(ctx context.Context, m api.Module, stack []uint64) {
		if c := callFrom(ctx); c != nil {
			m.Memory().Write(uint32(stack[0]), c.hostResp)
		}
	}, []api.ValueType{i32}, nil)
	fn("__host_error_len", func(ctx context.Context, m api.Module, stack []uint64) {
		stack[0] = 0
		if c := callFrom(ctx); c != nil {
			stack[0] = uint64(len(c.hostErr))
		}
	}, nil, []api.ValueType{i32})
	fn("__host_error", func(ctx context.Context, m api.Module, stack []uint64) {
		if c := callFrom(ctx); c != nil {
			m.Memory().Write(uint32(stack[0]), c.hostErr)
		}
	}, []api.ValueType{i32}, nil)
	fn("__console_log", func(ctx context.Context, m api.Module, stack []uint64) {
		if c := callFrom(ctx); c != nil && c.log != nil {
			if b, ok := readMem(m, stack[0], stack[1]); ok {
				c.log(string(b))
			}
		}
	}, []api.ValueType{i32, i32}, nil)
	_, err := b.Instantiate(ctx)
	return err
}
