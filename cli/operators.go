package cli

import (
	"fmt"
	"io"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/weirstream/weir/operator"
)

func operatorsCommand(env *Env) *ucli.Command {
	return &ucli.Command{
		Name:  "operators",
		Usage: "list the operators job files may name, with their parameters",
		Flags: []ucli.Flag{&ucli.BoolFlag{Name: "markdown", Usage: "print the reference as Markdown"}},
		Action: func(c *ucli.Context) error {
			if c.Bool("markdown") {
				OperatorReference(env.Stdout, env.Registry)
				return nil
			}
			for _, s := range env.Registry.Specs() {
				fmt.Fprintf(env.Stdout, "%-9s %-13s %s\n", s.Role, s.Kind, s.Summary)
				for _, p := range s.Params {
					fmt.Fprintf(env.Stdout, "            %-16s %s\n", p.Name, paramLine(p))
				}
			}
			return nil
		},
	}
}

func paramLine(p operator.Param) string {
	var b strings.Builder
	b.WriteString(string(p.Type))
	switch {
	case p.Required:
		b.WriteString(", required")
	case p.Default != nil:
		fmt.Fprintf(&b, ", default %v", p.Default)
	}
	if p.Doc != "" {
		b.WriteString(": " + p.Doc)
	}
	return b.String()
}

// OperatorReference writes the Markdown reference of every operator kind in reg (docs/job-file.md embeds
// it).
func OperatorReference(w io.Writer, reg *operator.Registry) {
	role := operator.Role("")
	for _, s := range reg.Specs() {
		if s.Role != role {
			role = s.Role
			fmt.Fprintf(w, "\n### %ss\n", strings.ToUpper(string(role[:1]))+string(role[1:]))
		}
		fmt.Fprintf(w, "\n#### `%s`\n\n%s\n\n", s.Kind, s.Summary)
		if s.Primary != "" {
			fmt.Fprintf(w, "Shorthand: `%s: VALUE` sets `%s`.\n\n", s.Kind, s.Primary)
		}
		if len(s.Params) == 0 {
			continue
		}
		fmt.Fprintln(w, "| parameter | type | default | meaning |")
		fmt.Fprintln(w, "| --- | --- | --- | --- |")
		for _, p := range s.Params {
			def := ""
			switch {
			case p.Required:
				def = "required"
			case p.Default != nil:
				def = fmt.Sprintf("`%v`", p.Default)
			}
			fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", p.Name, p.Type, def, strings.ReplaceAll(p.Doc, "|", "\\|"))
		}
	}
}
