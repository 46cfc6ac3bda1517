package latticetest

import _ "embed"

//go:embed testdata/echo.wasm
var tinyEcho []byte

// TinyEcho is the smallest waPC actor (testdata/echo.wat, unsigned): every operation answers its
// message. It compiles in milliseconds and an instance takes one page of memory, for tests that
// need many actors or instances, or no Go toolchain. Sign it with SignModule.
func TinyEcho() []byte { return append([]byte(nil), tinyEcho...) }
