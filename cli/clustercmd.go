package cli

import (
	"fmt"
	"text/tabwriter"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/cluster"
)

func clusterCommand(env *Env) *ucli.Command {
	dirFlag := &ucli.StringFlag{Name: "dir", Value: "weir-cluster", Usage: "the cluster's `DIR`: cluster.json, data directories, logs"}
	return &ucli.Command{
		Name:  "cluster",
		Usage: "start and stop a local cluster of agent processes on loopback",
		Subcommands: []*ucli.Command{
			{
				Name:  "up",
				Usage: "start N agents on free loopback ports, wait for a leader, write DIR/cluster.json",
				Flags: []ucli.Flag{
					&ucli.IntFlag{Name: "nodes", Value: 3, Usage: "`N` nodes"},
					dirFlag,
					&ucli.BoolFlag{Name: "fast", Value: true, Usage: "short failure-detection timeouts (loopback)"},
					&ucli.BoolFlag{Name: "json", Usage: "print cluster.json"},
				},
				Action: func(c *ucli.Context) error {
					cl, err := cluster.Up(c.Context, cluster.Spec{Nodes: c.Int("nodes"), Dir: c.String("dir"), Fast: c.Bool("fast")})
					if err != nil {
						return ucli.Exit(err.Error(), 1)
					}
					if c.Bool("json") {
						return printJSON(env.Stdout, cl)
					}
					leader, _ := cl.WaitLeader(c.Context)
					tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NODE\tPID\tHTTP\tDATA\tLOG")
					for _, n := range cl.Nodes {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", n.Name, n.PID, n.HTTP, n.DataDir, n.Log)
					}
					tw.Flush()
					fmt.Fprintf(env.Stdout, "\n%d nodes up; %s leads. Try:\n  export WEIR_ADDR=%s\n  weir members\n  weir job submit examples/squares.yaml\n  weir cluster down --dir %s\n",
						len(cl.Nodes), leader, cl.Nodes[0].HTTP, c.String("dir"))
					return nil
				},
			},
			{
				Name:  "addr",
				Usage: "print the API address of a live node of the cluster in DIR (for WEIR_ADDR)",
				Flags: []ucli.Flag{dirFlag},
				Action: func(c *ucli.Context) error {
					cl, err := cluster.Load(c.String("dir"))
					if err != nil {
						return ucli.Exit(err.Error(), 1)
					}
					live := cl.Live()
					if len(live) == 0 {
						return ucli.Exit(fmt.Sprintf("no node of the cluster in %s runs", c.String("dir")), 1)
					}
					fmt.Fprintln(env.Stdout, live[0].HTTP)
					return nil
				},
			},
			{
				Name:  "down",
				Usage: "stop the agents of the cluster in DIR (data and logs stay)",
				Flags: []ucli.Flag{dirFlag},
				Action: func(c *ucli.Context) error {
					cl, err := cluster.Load(c.String("dir"))
					if err != nil {
						return ucli.Exit(err.Error(), 1)
					}
					if err := cl.Down(); err != nil {
						return ucli.Exit(err.Error(), 1)
					}
					fmt.Fprintf(env.Stdout, "cluster in %s stopped\n", c.String("dir"))
					return nil
				},
			},
		},
	}
}
