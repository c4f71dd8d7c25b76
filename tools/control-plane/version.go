package main

import (
	"fmt"
	"runtime/debug"
)

// versionLine names the Kubernetes and etcd modules this binary was built from, read
// from the build info so it cannot drift from go.mod.
func versionLine() string {
	kubernetes, etcd := "unknown", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			switch dep.Path {
			case "k8s.io/kubernetes":
				kubernetes = dep.Version
			case "go.etcd.io/etcd/server/v3":
				etcd = dep.Version
			}
		}
	}
	return fmt.Sprintf("kubernetes %s etcd %s", kubernetes, etcd)
}
