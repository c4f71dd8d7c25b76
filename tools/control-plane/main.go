// Command control-plane is one binary holding the three Kubernetes control-plane
// processes the test suite runs (etcd, kube-apiserver, kube-controller-manager) and a
// small `pki` command that writes the certificates they need.
//
// One multi-call binary rather than three: the three share most of their dependency
// graph, so one link step and one cached file per version instead of three.
//
//	control-plane etcd [etcd flags]
//	control-plane kube-apiserver [kube-apiserver flags]
//	control-plane kube-controller-manager [kube-controller-manager flags]
//	control-plane pki --dir DIR
//	control-plane version
package main

import (
	"fmt"
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

const usage = "usage: control-plane etcd|kube-apiserver|kube-controller-manager|pki|version [args...]"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	component, args := os.Args[1], os.Args[2:]
	switch component {
	case "etcd":
		// etcdmain reads its flags from the slice it is given, program name first.
		etcdmain.Main(append([]string{"etcd"}, args...))
	case "kube-apiserver":
		command := apiserver.NewAPIServerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "kube-controller-manager":
		command := controllermanager.NewControllerManagerCommand()
		command.SetArgs(args)
		os.Exit(cli.Run(command))
	case "pki":
		if err := runPKI(args); err != nil {
			fmt.Fprintln(os.Stderr, "control-plane pki:", err)
			os.Exit(1)
		}
	case "version":
		fmt.Println(versionLine())
	default:
		fmt.Fprintf(os.Stderr, "control-plane: unknown component %q\n%s\n", component, usage)
		os.Exit(2)
	}
}
