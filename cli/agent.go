package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/agent"
)

// Default addresses of a node started without flags.
const (
	DefaultHTTPAddr   = "127.0.0.1:7410"
	DefaultRPCAddr    = "127.0.0.1:7411"
	DefaultGossipAddr = "127.0.0.1:7412"
)

func agentCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:  "agent",
		Usage: "run a cluster node: gossip, Raft, the PEs placed on it and the HTTP API",
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "name", Usage: "the node's `NAME` in the cluster (default: the host name)"},
			&ucli.StringFlag{Name: "data-dir", Usage: "keep Raft's log, snapshots and checkpoints in `DIR`; a node restarted on it rejoins with its state"},
			&ucli.StringFlag{Name: "http-addr", Value: DefaultHTTPAddr, Usage: "serve the API on `ADDR`"},
			&ucli.StringFlag{Name: "rpc-addr", Value: DefaultRPCAddr, Usage: "serve Raft and tuple streams on `ADDR`"},
			&ucli.StringFlag{Name: "bind", Value: DefaultGossipAddr, Usage: "gossip on `ADDR` (UDP and TCP)"},
			&ucli.StringFlag{Name: "advertise", Usage: "the `HOST` other nodes reach this one at, when listening on all interfaces"},
			&ucli.StringSliceFlag{Name: "join", Usage: "join the node gossiping at `ADDR` (repeatable; retried until it succeeds)"},
			&ucli.IntFlag{Name: "bootstrap-expect", Usage: "elect the first leader once `N` nodes have met"},
			&ucli.IntFlag{Name: "max-voters", Value: 5, Usage: "at most `N` Raft voters; further nodes join as non-voting members"},
			&ucli.IntFlag{Name: "replicas", Value: 2, Usage: "keep `N` copies of each checkpoint, this node's included"},
			&ucli.BoolFlag{Name: "dev", Usage: "a single node with everything in memory, for trying things out"},
			&ucli.BoolFlag{Name: "fast", Usage: "short failure-detection timeouts, for loopback clusters and tests"},
			&ucli.StringFlag{Name: "log-level", Value: "info", Usage: "log `LEVEL`: debug, info, warn, error"},
		},
		Action: func(c *ucli.Context) error {
			log, err := logger(env.Stderr, c.String("log-level"))
			if err != nil {
				return ucli.Exit(err.Error(), 2)
			}
			a, err := agent.Start(agent.Config{
				Name: c.String("name"), DataDir: c.String("data-dir"),
				HTTPAddr: c.String("http-addr"), RPCAddr: c.String("rpc-addr"), GossipAddr: c.String("bind"),
				Advertise: c.String("advertise"), Join: c.StringSlice("join"),
				BootstrapExpect: c.Int("bootstrap-expect"), MaxVoters: c.Int("max-voters"), Replicas: c.Int("replicas"),
				Dev: c.Bool("dev"), Fast: c.Bool("fast"),
				Jobs: env.Jobs, Registry: env.Registry, Stdout: env.Stdout, Logger: log,
			})
			if err != nil {
				return ucli.Exit(err.Error(), 1)
			}
			fmt.Fprintf(env.Stderr, "weir agent %s: API on http://%s, gossip on %s\n", a.Name(), a.HTTPAddr(), a.GossipAddr())
			// SIGINT and SIGTERM leave gracefully; a second one stops at once.
			sig := make(chan os.Signal, 2)
			signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sig)
			stop := env.Signals
			select {
			case <-a.Done():
				return nil
			case <-sig:
			case <-stop:
			}
			fmt.Fprintln(env.Stderr, "leaving the cluster (signal again to stop at once)")
			left := make(chan struct{})
			go func() {
				a.Leave()
				close(left)
			}()
			select {
			case <-left:
			case <-sig:
				a.Shutdown()
			}
			return nil
		},
	}
}
