// Command fluoro is Fluoro's single binary: an X-Ray-compatible tracing
// backend (collector, ClickHouse schema, query API, dashboard) and a
// Lambda-compatible invoker. Each component can run alone or all together
// with `fluoro up`.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("fluoro", version)
		return
	}
	fmt.Fprintln(os.Stderr, "usage: fluoro <up|collector|query|migrate|version> [flags]")
	os.Exit(2)
}
