package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/chaos"
	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/operator/builtin"
	"github.com/weirstream/weir/topology"
)

// Env is what commands run with.
type Env struct {
	Stdout, Stderr io.Writer
	// Jobs are the Go jobs this binary can run; Registry the operator kinds job files may name.
	Jobs     *topology.Jobs
	Registry *operator.Registry
	// Signals, when set, is closed to interrupt a running command (tests); otherwise SIGINT and SIGTERM
	// interrupt it.
	Signals <-chan struct{}
	// ForceReset, in tests, does what SIGUSR1 does to `weir run --wait-on-max-attempts`.
	ForceReset <-chan struct{}
}

// NewApp builds the weir command line.
func NewApp(env *Env) *ucli.App {
	if env.Jobs == nil {
		env.Jobs = topology.NewJobs()
	}
	if env.Registry == nil {
		env.Registry = builtin.NewRegistryWithStdout(env.Stdout)
	}
	return &ucli.App{
		Name:                      "weir",
		Usage:                     "a stream-processing engine with parallel and consistent regions",
		Writer:                    env.Stdout,
		ErrWriter:                 env.Stderr,
		DisableSliceFlagSeparator: true,
		Suggest:                   true,
		HideHelpCommand:           true,
		ExitErrHandler:            func(*ucli.Context, error) {},
		Commands: []*ucli.Command{
			runCommand(env),
			planCommand(env),
			operatorsCommand(env),
			benchCommand(env),
			agentCommand(env),
			jobCommand(env),
			membersCommand(env),
			statusCommand(env),
			leaveCommand(env),
			clusterCommand(env),
			chaosCommand(env),
		},
	}
}

// Run runs the command line args (args[0] is the program name) and returns the process exit code.
func Run(env *Env, args []string) int {
	app := NewApp(env)
	err := app.Run(Reorder(app, args))
	if err == nil {
		return 0
	}
	var ec ucli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(env.Stderr, "weir:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(env.Stderr, "weir:", err)
	return 2
}

// Main is the main of weir and of user binaries that add Go jobs: it runs the command line and exits. It
// adds the verification job of `weir chaos` to jobs, so that every agent can run it.
func Main(jobs *topology.Jobs) {
	if jobs == nil {
		jobs = topology.NewJobs()
	}
	chaos.Register(jobs)
	os.Exit(Run(&Env{Stdout: os.Stdout, Stderr: os.Stderr, Jobs: jobs}, os.Args))
}

// Reorder moves each command's flags before its positional arguments, so that flags may come before or
// after them (`weir run job.yaml -P n=5` as well as `weir run -P n=5 job.yaml`). Everything after "--"
// stays positional.
func Reorder(app *ucli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	out := []string{args[0]}
	cmds := app.Commands
	var flags []ucli.Flag = app.Flags
	i := 1
	// The command path: leading tokens naming commands and subcommands (global flags may precede them).
	for i < len(args) {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			n := flagTokens(flags, args[i:])
			out = append(out, args[i:i+n]...)
			i += n
			continue
		}
		c := findCommand(cmds, a)
		if c == nil {
			break
		}
		out = append(out, a)
		cmds, flags = c.Subcommands, c.Flags
		i++
	}
	var fl, pos []string
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			n := flagTokens(flags, args[i:])
			fl = append(fl, args[i:i+n]...)
			i += n
		default:
			pos = append(pos, a)
			i++
		}
	}
	return append(append(out, fl...), pos...)
}

func findCommand(cmds []*ucli.Command, name string) *ucli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// flagTokens is the number of tokens the flag at args[0] takes: 2 when it needs a value not given with "=".
func flagTokens(flags []ucli.Flag, args []string) int {
	a := args[0]
	if strings.Contains(a, "=") {
		return 1
	}
	name := strings.TrimLeft(a, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, isBool := f.(*ucli.BoolFlag); isBool {
				return 1
			}
			if len(args) > 1 {
				return 2
			}
			return 1
		}
	}
	return 1
}
