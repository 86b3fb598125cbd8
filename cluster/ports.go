package cluster

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// The ports of a local cluster's nodes are fixed when it starts: a node restarted on its data directory
// must come back on the addresses Raft and gossip know it by. They are drawn below the kernel's ephemeral
// range, which the source ports of outgoing connections and every bind to port 0 come from: a port taken
// there is free when drawn and can be gone by the time the agent binds it, or when a killed node restarts
// (found in CI, where other suites connect and bind in parallel: a node that could not bind left the
// cluster without a leader).
const (
	lowestPort = 10000
	// fallbackEphemeral is the usual start of Linux's ephemeral range, for systems that do not say.
	fallbackEphemeral = 32768
)

// freePorts finds n distinct ports, each free for TCP and UDP on loopback (gossip uses both).
func freePorts(n int) ([]int, error) {
	hi := ephemeralStart()
	if hi-lowestPort < 1000 {
		return nil, fmt.Errorf("cluster: the ephemeral port range starts at %d: no room below it for agents' ports", hi)
	}
	var out []int
	var hold []func()
	defer func() {
		for _, f := range hold {
			f()
		}
	}()
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("cluster: no free port between %d and %d after %d tries", lowestPort, hi, tries)
		}
		port := lowestPort + rand.IntN(hi-lowestPort)
		ln, err := net.Listen("tcp", loopback(port))
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", loopback(port))
		if err != nil {
			ln.Close()
			continue
		}
		hold = append(hold, func() { ln.Close(); pc.Close() })
		out = append(out, port)
	}
	return out, nil
}

// ephemeralStart is the first port of the kernel's ephemeral range.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallbackEphemeral
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return fallbackEphemeral
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return fallbackEphemeral
	}
	return lo
}
