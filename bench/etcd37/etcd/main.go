// Command etcd is etcd 3.7's server, built from the Go module proxy: the server module cannot be
// `go install`ed (its go.mod has replace directives), but a main calling etcdmain.Main builds.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
