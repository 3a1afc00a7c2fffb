// Command etcd is the upstream etcd server, built from go.etcd.io/etcd/server/v3 (whose
// go.mod has replace lines, so it cannot be `go install`ed on its own).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
