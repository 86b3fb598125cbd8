package cli

import (
	"fmt"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/jobfile"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/topology"
)

var paramFlag = &ucli.StringSliceFlag{
	Name:    "param",
	Aliases: []string{"P"},
	Usage:   "set a job parameter: `NAME=VALUE` (repeatable)",
}

// params parses -P flags.
func params(c *ucli.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range c.StringSlice("param") {
		name, v, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("parameter %q: write it as NAME=VALUE", kv)
		}
		out[strings.TrimSpace(name)] = v
	}
	return out, nil
}

// loaded is a job ready to run: its plan and the code behind it.
type loaded struct {
	plan    *topology.Plan
	binding topology.Binding
}

// isJobFile tells a job file from a Go job's name.
func isJobFile(ref string) bool {
	if strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") || strings.ContainsRune(ref, os.PathSeparator) {
		return true
	}
	st, err := os.Stat(ref)
	return err == nil && !st.IsDir()
}

// load resolves a job: a YAML job file, or a Go job registered in this binary. With no reference, a binary
// holding exactly one Go job runs that one.
func load(env *Env, ref string, ps map[string]string) (*loaded, error) {
	if ref == "" {
		names := env.Jobs.Names()
		if len(names) != 1 {
			return nil, fmt.Errorf("name a job file or one of this binary's Go jobs (%s)", listOrNone(names))
		}
		ref = names[0]
	}
	if env.Jobs.Has(ref) {
		topo, plan, err := env.Jobs.Build(ref, ps)
		if err != nil {
			return nil, err
		}
		return &loaded{plan: plan, binding: topo}, nil
	}
	if !isJobFile(ref) {
		return nil, fmt.Errorf("%s is neither a job file nor a Go job of this binary (Go jobs: %s)", ref, listOrNone(env.Jobs.Names()))
	}
	plan, err := jobfile.Load(ref, jobfile.Options{
		Params:   ps,
		Registry: env.Registry,
		CheckKey: func(src string) error { _, err := builtin.CompileKey(src); return err },
	})
	if err != nil {
		return nil, err
	}
	return &loaded{plan: plan, binding: builtin.Binding(env.Registry)}, nil
}

// loadArg loads the job a command names in its one argument, with its -P parameters; errors are exits
// with the usage code.
func loadArg(c *ucli.Context, env *Env) (*loaded, error) {
	if c.NArg() > 1 {
		return nil, ucli.Exit(fmt.Sprintf("%s takes one job, got %q", c.Command.Name, c.Args().Slice()), 2)
	}
	ps, err := params(c)
	if err != nil {
		return nil, ucli.Exit(err.Error(), 2)
	}
	job, err := load(env, c.Args().First(), ps)
	if err != nil {
		return nil, ucli.Exit(err.Error(), 2)
	}
	return job, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
