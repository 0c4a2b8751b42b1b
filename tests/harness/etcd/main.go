// Command etcd is the etcd server the test harness runs, built from the Go module proxy
// because Debian's etcd-server is older than Kubernetes 1.34 accepts.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
