package oam_test

import (
	"errors"
	"fmt"

	"github.com/trellis-lattice/trellis/lattice/oam"
)

func ExampleParse() {
	m, err := oam.Parse([]byte(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: echo
  annotations:
    version: v0.0.1
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: build/actors/echo_s.wasm
      traits:
        - type: spreadscaler
          properties:
            replicas: 1
        - type: linkdef
          properties:
            target: httpserver
            values:
              address: 127.0.0.1:8080
    - name: httpserver
      type: capability
      properties:
        image: build/providers/httpserver.par.gz
        contract: wasmcloud:httpserver
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Metadata.Name, m.Version())
	for _, c := range m.Spec.Components {
		typ, scaler := c.EffectiveScaler()
		fmt.Printf("%s %s: %s of %d\n", c.Type, c.Name, typ, scaler.Replicas)
		for _, l := range c.LinkDefs() {
			fmt.Printf("  linked to %s: %v\n", l.Target, l.Values)
		}
	}
	// Output:
	// echo v0.0.1
	// actor echo: spreadscaler of 1
	//   linked to httpserver: map[address:127.0.0.1:8080]
	// capability httpserver: spreadscaler of 1
}

func ExampleParse_errors() {
	_, err := oam.Parse([]byte(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: echo
spec:
  components:
    - name: echo
      type: actor
      properties:
        image: build/actors/echo_s.wasm
      traits:
        - type: linkdef
          properties:
            target: httpsrv
    - name: httpserver
      type: capability
      properties:
        image: build/providers/httpserver.par.gz
      traits:
        - type: spreadscaler
          properties:
            replicas: -1
`))
	fmt.Println(err)
	var ve *oam.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(len(ve.Errors), "problems, the first on line", ve.Errors[0].Line)
	}
	// Output:
	// spec.components[0].traits[0].properties.target (line 14): "httpsrv" is not a capability component of this app (capabilities: httpserver)
	// spec.components[1].properties.contract (line 17): a capability needs a contract, such as wasmcloud:httpserver
	// spec.components[1].traits[0].properties.replicas (line 22): replicas must not be negative (got -1)
	// 3 problems, the first on line 14
}
