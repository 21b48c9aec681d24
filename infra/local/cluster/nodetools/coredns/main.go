// Command coredns is CoreDNS with only the plugins the local node's cluster DNS needs: it answers
// for the cluster's Services and pods (kubernetes) and nothing else. There is deliberately no
// `forward` plugin: a query for any other name is refused, so no traffic ever leaves the machine.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	// dnsserver.Directives orders every plugin CoreDNS knows; the ones not linked in are ignored.
	_ = dnsserver.Directives
	coremain.Run()
}
