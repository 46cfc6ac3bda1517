//go:build wasip1

package actor

import (
	"errors"
	"unsafe"
)

// The wasmbus imports (PROTOCOL.md §3). Pointers are offsets in this module's memory; all
// parameters are i32.

//go:wasmimport wasmbus __guest_request
func guestRequest(opPtr, msgPtr unsafe.Pointer)

//go:wasmimport wasmbus __guest_response
func guestResponse(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmbus __guest_error
func guestError(ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmbus __host_call
func hostCall(bdPtr unsafe.Pointer, bdLen uint32, nsPtr unsafe.Pointer, nsLen uint32,
	opPtr unsafe.Pointer, opLen uint32, msgPtr unsafe.Pointer, msgLen uint32) uint32

//go:wasmimport wasmbus __host_response_len
func hostResponseLen() uint32

//go:wasmimport wasmbus __host_response
func hostResponse(ptr unsafe.Pointer)

//go:wasmimport wasmbus __host_error_len
func hostErrorLen() uint32

//go:wasmimport wasmbus __host_error
func hostError(ptr unsafe.Pointer)

//go:wasmimport wasmbus __console_log
func consoleLog(ptr unsafe.Pointer, n uint32)

// in holds the operation name and payload of the current call. An instance runs one call at a
// time and dispatch copies msg for handlers that may keep it, so the buffer is reused from call
// to call instead of allocating two slices each time (up to keepBuffer bytes: a larger one is
// used once and left to the garbage collector).
var in []byte

// guestCall is the entry point of every invocation: the host passes the sizes, the guest
// makes room, asks the host to fill both buffers, dispatches, and hands back the reply or the
// error. It returns 1 on success, 0 on error.
//
// The Go runtime runs every export on the goroutine that ran init, whose stack persists (and
// grows once) across calls; there is nothing to gain from trampolines here.
//
//go:wasmexport __guest_call
func guestCall(opLen, msgLen uint32) uint32 {
	n := int(opLen) + int(msgLen)
	buf := in
	if cap(buf) < n {
		buf = make([]byte, n)
		if n <= keepBuffer {
			in = buf
		}
	}
	op, msg := buf[:opLen:opLen], buf[opLen:n]
	guestRequest(bytesPtr(op), bytesPtr(msg))
	resp, err := dispatch(unsafe.String(unsafe.SliceData(op), len(op)), msg)
	if err != nil {
		e := err.Error()
		guestError(stringPtr(e), uint32(len(e)))
		return 0
	}
	guestResponse(bytesPtr(resp), uint32(len(resp)))
	return 1
}

type wasmHost struct{}

func (wasmHost) call(binding, namespace, operation string, msg []byte) ([]byte, error) {
	if hostCall(stringPtr(binding), uint32(len(binding)), stringPtr(namespace), uint32(len(namespace)),
		stringPtr(operation), uint32(len(operation)), bytesPtr(msg), uint32(len(msg))) != 1 {
		e := make([]byte, hostErrorLen())
		hostError(bytesPtr(e))
		return nil, errors.New(string(e))
	}
	resp := make([]byte, hostResponseLen())
	hostResponse(bytesPtr(resp))
	return resp, nil
}

func (wasmHost) log(msg string) { consoleLog(stringPtr(msg), uint32(len(msg))) }

func bytesPtr(b []byte) unsafe.Pointer  { return unsafe.Pointer(unsafe.SliceData(b)) }
func stringPtr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

func init() { host = wasmHost{} }

var _ hostABI = wasmHost{}
