package agent

import (
	"net"
	"testing"
)

// A host name given to --advertise (a container's name on its network) becomes an IP in every advertised
// address: memberlist cannot advertise a name, and Raft's addresses must not depend on a resolver.
func TestAdvertiseResolvesHostNames(t *testing.T) {
	unspecified := &net.TCPAddr{IP: net.IPv4zero, Port: 7411}
	for _, tc := range []struct{ advertise, want string }{
		{"localhost", "127.0.0.1:7411"},
		{"10.1.2.3", "10.1.2.3:7411"},
	} {
		c := &Config{Advertise: tc.advertise, GossipAddr: "0.0.0.0:7412"}
		got, err := c.advertised(unspecified)
		if err != nil || got != tc.want {
			t.Errorf("advertised with --advertise %s = %q, %v; want %q", tc.advertise, got, err, tc.want)
		}
		g, err := advertiseGossip(c)
		wantGossip := net.JoinHostPort(tc.want[:len(tc.want)-len(":7411")], "7412")
		if err != nil || g != wantGossip {
			t.Errorf("gossip advertise with --advertise %s = %q, %v; want %q", tc.advertise, g, err, wantGossip)
		}
	}
	// A listener on a specific address is advertised as it is.
	c := &Config{Advertise: "localhost"}
	if got, err := c.advertised(&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 9}); err != nil || got != "127.0.0.2:9" {
		t.Errorf("advertised of a specific address = %q, %v", got, err)
	}
	// No advertise flag, or a port gossip picks: memberlist chooses.
	for _, c := range []*Config{{GossipAddr: "0.0.0.0:7412"}, {Advertise: "localhost", GossipAddr: "0.0.0.0:0"}} {
		if g, err := advertiseGossip(c); err != nil || g != "" {
			t.Errorf("gossip advertise of %+v = %q, %v; want \"\"", c, g, err)
		}
	}
}

func TestAdvertiseUnresolvableNameFails(t *testing.T) {
	saved := advertiseResolveFor
	advertiseResolveFor = 0
	defer func() { advertiseResolveFor = saved }()
	c := &Config{Advertise: "no-such-node.invalid"}
	if got, err := c.advertised(&net.TCPAddr{IP: net.IPv4zero, Port: 7411}); err == nil {
		t.Fatalf("advertised = %q, want an error", got)
	}
}
