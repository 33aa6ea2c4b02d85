// Command balancer is a round-robin HTTP load balancer for trying a
// cometplay cluster on one machine (make cluster): each request goes to the
// next node. See internal/balancer.
//
//	balancer -addr 127.0.0.1:8080 -backends n1=127.0.0.1:8081,n2=127.0.0.1:8082
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"

	"github.com/cometplay/cometplay/internal/balancer"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	list := flag.String("backends", "", "comma-separated nodes, name=host:port")
	flag.Parse()
	var bs []balancer.Backend
	for _, b := range strings.Split(*list, ",") {
		name, a, ok := strings.Cut(b, "=")
		if !ok || name == "" || a == "" {
			fmt.Fprintf(os.Stderr, "balancer: -backends wants name=host:port,…, got %q\n", *list)
			os.Exit(2)
		}
		bs = append(bs, balancer.Backend{Name: name, Addr: a})
	}
	log.Fatal(http.ListenAndServe(*addr, balancer.New(bs)))
}
