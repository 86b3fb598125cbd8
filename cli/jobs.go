package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/agent/api"
)

var addrFlag = &ucli.StringFlag{
	Name: "addr", EnvVars: []string{"WEIR_ADDR"}, Value: DefaultHTTPAddr,
	Usage: "the `ADDR` of any node's API (or WEIR_ADDR)",
}

var jsonFlag = &ucli.BoolFlag{Name: "json", Usage: "print JSON, for scripts"}

func client(c *ucli.Context) *api.Client { return api.NewClient(c.String("addr")) }

func ctx(c *ucli.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Context, 60*time.Second)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// apiExit turns an API error into an exit with a message a user can act on.
func apiExit(err error, addr string) error {
	msg := err.Error()
	if strings.Contains(msg, "connection refused") {
		msg = fmt.Sprintf("no Weir node answers at %s (start one with `weir agent`, or give --addr / WEIR_ADDR): %v", addr, err)
	}
	return ucli.Exit(msg, 1)
}

func jobCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:  "job",
		Usage: "submit, list, inspect and cancel jobs on a cluster",
		Subcommands: []*ucli.Command{
			{
				Name: "submit", Usage: "submit a job file or a Go job of this binary to the cluster; prints its ID",
				ArgsUsage: "JOB.yaml | GO-JOB",
				Flags:     []ucli.Flag{addrFlag, paramFlag, jsonFlag},
				Action: func(c *ucli.Context) error {
					if c.NArg() != 1 {
						return ucli.Exit("job submit takes one job file or Go job", 2)
					}
					ps, err := params(c)
					if err != nil {
						return ucli.Exit(err.Error(), 2)
					}
					ref := c.Args().First()
					req := api.SubmitRequest{Params: ps}
					switch {
					case env.Jobs.Has(ref):
						req.GoJob = ref
					case isJobFile(ref):
						data, err := os.ReadFile(ref)
						if err != nil {
							return ucli.Exit(fmt.Sprintf("read job file: %v", err), 2)
						}
						req.JobFile, req.FileName = string(data), filepath.Base(ref)
					default:
						return ucli.Exit(fmt.Sprintf("%s is neither a job file nor a Go job of this binary (Go jobs: %s)", ref, listOrNone(env.Jobs.Names())), 2)
					}
					cx, cancel := ctx(c)
					defer cancel()
					id, err := client(c).Submit(cx, req)
					if err != nil {
						return apiExit(err, c.String("addr"))
					}
					if c.Bool("json") {
						return printJSON(env.Stdout, api.SubmitResponse{ID: id})
					}
					fmt.Fprintln(env.Stdout, id)
					return nil
				},
			},
			{
				Name: "list", Usage: "list the cluster's jobs",
				Flags: []ucli.Flag{addrFlag, jsonFlag, &ucli.BoolFlag{Name: "consistent", Usage: "read from the leader"}},
				Action: func(c *ucli.Context) error {
					cx, cancel := ctx(c)
					defer cancel()
					jobs, err := client(c).Jobs(cx, c.Bool("consistent"))
					if err != nil {
						return apiExit(err, c.String("addr"))
					}
					if c.Bool("json") {
						return printJSON(env.Stdout, jobs)
					}
					tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tSTATE\tPEs\tREGIONS\tSUBMITTED")
					for _, j := range jobs {
						var regs []string
						for _, r := range j.Regions {
							regs = append(regs, fmt.Sprintf("%d:%s@%d", r.Index, r.State, r.Committed))
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Name, j.State, len(j.PEs), strings.Join(regs, " "), j.Submitted.Format(time.DateTime))
					}
					return tw.Flush()
				},
			},
			{
				Name: "status", Usage: "show a job: state, consistent regions (state, committed epoch, last checkpoint, resets), PEs",
				ArgsUsage: "ID",
				Flags:     []ucli.Flag{addrFlag, jsonFlag, &ucli.BoolFlag{Name: "consistent", Usage: "read from the leader (the live state of each region)"}},
				Action: func(c *ucli.Context) error {
					if c.NArg() != 1 {
						return ucli.Exit("job status takes a job ID", 2)
					}
					cx, cancel := ctx(c)
					defer cancel()
					j, err := client(c).Job(cx, c.Args().First(), c.Bool("consistent"))
					if err != nil {
						return apiExit(err, c.String("addr"))
					}
					if c.Bool("json") {
						return printJSON(env.Stdout, j)
					}
					writeJob(env.Stdout, j)
					return nil
				},
			},
			{
				Name: "cancel", Usage: "cancel a job", ArgsUsage: "ID",
				Flags: []ucli.Flag{addrFlag, jsonFlag},
				Action: func(c *ucli.Context) error {
					if c.NArg() != 1 {
						return ucli.Exit("job cancel takes a job ID", 2)
					}
					cx, cancel := ctx(c)
					defer cancel()
					if err := client(c).Cancel(cx, c.Args().First()); err != nil {
						return apiExit(err, c.String("addr"))
					}
					if c.Bool("json") {
						return printJSON(env.Stdout, map[string]string{"cancelled": c.Args().First()})
					}
					fmt.Fprintf(env.Stdout, "job %s cancelled\n", c.Args().First())
					return nil
				},
			},
			{
				Name: "reset", Usage: "force a reset of a consistent region (the way out of maximum attempts reached)", ArgsUsage: "ID",
				Flags: []ucli.Flag{addrFlag, &ucli.IntFlag{Name: "region", Usage: "the region's `INDEX`"}},
				Action: func(c *ucli.Context) error {
					if c.NArg() != 1 {
						return ucli.Exit("job reset takes a job ID", 2)
					}
					cx, cancel := ctx(c)
					defer cancel()
					if err := client(c).ResetRegion(cx, c.Args().First(), c.Int("region")); err != nil {
						return apiExit(err, c.String("addr"))
					}
					fmt.Fprintf(env.Stdout, "region %d of job %s resets\n", c.Int("region"), c.Args().First())
					return nil
				},
			},
		},
	}
}

func writeJob(w io.Writer, j api.Job) {
	fmt.Fprintf(w, "job %s (%s): %s\n", j.ID, j.Name, j.State)
	if j.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", j.Error)
	}
	fmt.Fprintf(w, "  submitted %s, origin %s, fingerprint %s\n", j.Submitted.Format(time.RFC3339), j.Origin, j.Fingerprint)
	if !j.Ended.IsZero() {
		fmt.Fprintf(w, "  ended %s\n", j.Ended.Format(time.RFC3339))
	}
	for _, r := range j.Regions {
		last := "never"
		if !r.LastCheckpoint.IsZero() {
			last = r.LastCheckpoint.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(w, "  consistent region %d: %s, epoch %d committed (last checkpoint %s), %d commits, %d resets, generation %d\n",
			r.Index, r.State, r.Committed, last, r.Commits, r.Resets, r.Generation)
		if r.LastError != "" {
			fmt.Fprintf(w, "    last reset: %s\n", firstLine(r.LastError))
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PE\tNODE\tREGION")
	for _, p := range j.PEs {
		reg := "-"
		if p.Region >= 0 {
			reg = fmt.Sprint(p.Region)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.ID, p.Node, reg)
	}
	tw.Flush()
}

func membersCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name: "members", Usage: "list the cluster's nodes: name, address, status, role, which one leads",
		Flags: []ucli.Flag{addrFlag, jsonFlag},
		Action: func(c *ucli.Context) error {
			cx, cancel := ctx(c)
			defer cancel()
			ms, err := client(c).Members(cx)
			if err != nil {
				return apiExit(err, c.String("addr"))
			}
			if c.Bool("json") {
				return printJSON(env.Stdout, ms)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADDRESS\tSTATUS\tROLE\tLEADER\tHTTP")
			for _, m := range ms {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Addr, m.Status, m.Role, strconv.FormatBool(m.Leader), m.HTTP)
			}
			return tw.Flush()
		},
	}
}

func statusCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name: "status", Usage: "show the leader, the Raft peers and the PEs on each node",
		Flags: []ucli.Flag{addrFlag, jsonFlag, &ucli.BoolFlag{Name: "consistent", Usage: "read from the leader"}},
		Action: func(c *ucli.Context) error {
			cx, cancel := ctx(c)
			defer cancel()
			st, err := client(c).Status(cx, c.Bool("consistent"))
			if err != nil {
				return apiExit(err, c.String("addr"))
			}
			if c.Bool("json") {
				return printJSON(env.Stdout, st)
			}
			leader := st.Leader
			if leader == "" {
				leader = "(none)"
			}
			fmt.Fprintf(env.Stdout, "node %s; leader %s; raft index %d\n", st.Node, leader, st.Index)
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RAFT PEER\tADDRESS\tVOTER")
			for _, p := range st.Peers {
				fmt.Fprintf(tw, "%s\t%s\t%v\n", p.ID, p.Address, p.Voter)
			}
			tw.Flush()
			for _, node := range sortedKeys(mapLen(st.PEs)) {
				fmt.Fprintf(env.Stdout, "PEs on %s (%d): %s\n", node, len(st.PEs[node]), strings.Join(st.PEs[node], " "))
			}
			return nil
		},
	}
}

func mapLen(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

func leaveCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name: "leave", Usage: "make a node leave the cluster gracefully and stop",
		Flags: []ucli.Flag{addrFlag},
		Action: func(c *ucli.Context) error {
			cx, cancel := ctx(c)
			defer cancel()
			if err := client(c).Leave(cx); err != nil {
				return apiExit(err, c.String("addr"))
			}
			fmt.Fprintf(env.Stdout, "the node at %s is leaving\n", c.String("addr"))
			return nil
		},
	}
}
