// Command kubeactor is the applier's test actor: it drives the cosmonic:kubernetes_applier contract
// through its link the way a real actor would, so tests can call it with the ctl client.
//
//	Kube.Apply   msg = a YAML or JSON manifest → the OperationResponse of KubernetesApplier.Apply
//	Kube.Delete  msg = JSON {group, version, kind, name, namespace} → that of KubernetesApplier.Delete
//	Kube.Raw     msg = the bytes to send as Apply's argument as they are (to test bad arguments)
package main

import (
	"encoding/json"

	"github.com/trellis-lattice/trellis/actor"
	"github.com/trellis-lattice/trellis/lattice/contracts/applier"
)

func init() {
	actor.Handle("Kube.Apply", func(msg []byte) ([]byte, error) {
		arg, err := applier.EncodeManifest(msg)
		if err != nil {
			return nil, err
		}
		return actor.HostCall(actor.DefaultLink, applier.ContractID, applier.OpApply, arg)
	})
	actor.Handle("Kube.Delete", func(msg []byte) ([]byte, error) {
		var req struct {
			Group, Version, Kind, Name, Namespace string
		}
		if err := json.Unmarshal(msg, &req); err != nil {
			return nil, err
		}
		arg, err := applier.DeleteRequest{Group: req.Group, Version: req.Version, Kind: req.Kind, Name: req.Name, Namespace: req.Namespace}.Encode()
		if err != nil {
			return nil, err
		}
		return actor.HostCall(actor.DefaultLink, applier.ContractID, applier.OpDelete, arg)
	})
	actor.Handle("Kube.Raw", func(msg []byte) ([]byte, error) {
		return actor.HostCall(actor.DefaultLink, applier.ContractID, applier.OpApply, msg)
	})
}

func main() {}
