// Command kubectl is the Kubernetes client the stand-in kind uses to edit kubeconfig files,
// built from the same pinned k8s.io/kubernetes as the API server so the harness needs no
// kubectl from the machine.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
