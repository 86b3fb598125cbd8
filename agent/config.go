package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/topology"
)

// Config configures a node.
type Config struct {
	// Name identifies the node in the cluster (default: the host name).
	Name string
	// DataDir keeps Raft's log, stable store and snapshots and the node's checkpoints; a node restarted on
	// its data directory rejoins with its state. Required unless Dev.
	DataDir string
	// GossipAddr, RPCAddr and HTTPAddr are where the node listens: gossip (UDP and TCP), the multiplexed
	// port of Raft and tuple streams, and the HTTP API. Port 0 picks a free one.
	GossipAddr, RPCAddr, HTTPAddr string
	// Advertise is the host others reach this node at, when it listens on all interfaces.
	Advertise string
	// Join lists gossip addresses of other nodes; joining is retried until it succeeds.
	Join []string
	// BootstrapExpect: a fresh cluster elects its first leader once this many nodes have met.
	BootstrapExpect int
	// MaxVoters bounds the Raft voters (default 5); further nodes join as non-voters.
	MaxVoters int
	// Replicas is the number of copies of each checkpoint, this node's included (default 2).
	Replicas int
	// Dev runs a single node with everything in memory (weir agent -dev).
	Dev bool
	// Fast uses short timeouts (gossip verdicts in about a second, Raft elections in a fraction of one):
	// for loopback clusters and tests.
	Fast bool
	// Jobs and Registry are this binary's Go jobs and operator kinds.
	Jobs     *topology.Jobs
	Registry *operator.Registry
	// Stdout receives the output of stdout sinks.
	Stdout             io.Writer
	BatchSize, Credits int
	Logger             *slog.Logger
}

func (c *Config) defaults() error {
	if c.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent: no name given and no host name: %w", err)
		}
		c.Name = h
	}
	if c.DataDir == "" && !c.Dev {
		return errors.New("agent: --data-dir is required (or run with -dev)")
	}
	if c.GossipAddr == "" {
		c.GossipAddr = "127.0.0.1:0"
	}
	if c.RPCAddr == "" {
		c.RPCAddr = "127.0.0.1:0"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:0"
	}
	if c.MaxVoters <= 0 {
		c.MaxVoters = 5
	}
	if c.Replicas <= 0 {
		c.Replicas = 2
	}
	if c.Dev && c.BootstrapExpect == 0 {
		c.BootstrapExpect = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Jobs == nil {
		c.Jobs = topology.NewJobs()
	}
	return nil
}

// advertised turns a listener's address into one others can dial: an unspecified host becomes Advertise
// or the first non-loopback address of this machine.
func (c *Config) advertised(a net.Addr) (string, error) {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsUnspecified() {
		return a.String(), nil
	}
	if c.Advertise != "" {
		host, err := c.advertiseIP()
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(host, port), nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return net.JoinHostPort(n.IP.String(), port), nil
		}
	}
	return "", fmt.Errorf("agent: listening on %s: give --advertise, no usable address found", a)
}

// advertiseIP is Advertise as an IP address: a host name (a container's name on its network, say) is
// resolved, because gossip advertises an IP and the addresses recorded in Raft should not depend on a
// resolver that forgets a node while it is cut off. An IPv4 address is preferred. A name that does not
// resolve yet (a resolver that learns the node a moment after it starts) is retried for a few seconds.
func (c *Config) advertiseIP() (string, error) {
	if net.ParseIP(c.Advertise) != nil {
		return c.Advertise, nil
	}
	deadline := time.Now().Add(advertiseResolveFor)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", c.Advertise)
		cancel()
		if err == nil && len(ips) > 0 {
			for _, ip := range ips {
				if ip.To4() != nil {
					return ip.String(), nil
				}
			}
			return ips[0].String(), nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("no address")
			}
			return "", fmt.Errorf("agent: --advertise %s: %w", c.Advertise, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// advertiseResolveFor bounds the retries of advertiseIP.
var advertiseResolveFor = 5 * time.Second

// timing holds the node's timeouts.
type timing struct {
	heartbeat, election, lease, commit time.Duration
}

func (c *Config) timing() timing {
	if c.Fast {
		// Quick elections, but a lease a busy leader (its own PEs compete for the CPU) keeps: at 150 ms a
		// loaded two-core machine stepped down again and again with one peer gone.
		return timing{heartbeat: 500 * time.Millisecond, election: 500 * time.Millisecond, lease: 500 * time.Millisecond, commit: 20 * time.Millisecond}
	}
	return timing{heartbeat: time.Second, election: time.Second, lease: 500 * time.Millisecond, commit: 50 * time.Millisecond}
}
