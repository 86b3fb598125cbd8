package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Agents' ports come from below the ephemeral range, where no outgoing connection or bind to port 0 can
// take them between the draw and the agent's bind.
func TestFreePortsBelowTheEphemeralRange(t *testing.T) {
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < lowestPort || p >= ephemeralStart() || seen[p] {
			t.Fatalf("port %d: want distinct ports in [%d, %d)", p, lowestPort, ephemeralStart())
		}
		seen[p] = true
		ln, err := net.Listen("tcp", loopback(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
	}
}

// A cluster that does not come up says which nodes exited and how their logs end.
func TestExitedNodesShowTheirLogs(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "n2.log")
	var lines []string
	for i := 1; i <= 15; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	lines = append(lines, "agent: listen tcp 127.0.0.1:20001: bind: address already in use")
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, Nodes: []Node{{Name: "n1", PID: os.Getpid()}, {Name: "n2", Log: log}}}
	got := c.exited()
	if strings.Contains(got, "n1") || !strings.Contains(got, "n2 (pid 0) is not running") ||
		!strings.Contains(got, "address already in use") || strings.Contains(got, "line 6\n") || !strings.Contains(got, "line 7") {
		t.Fatalf("exited() = %q", got)
	}
}
