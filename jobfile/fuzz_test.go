package jobfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/topology"
)

// FuzzParse checks that Parse never panics, that every problem is located in the file, and that a plan it
// accepts is valid and encodes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../examples/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data, "count=5")
		}
	}
	seeds := []string{
		"",
		"name: x\nsteps:\n  - source: sequence\n    count: 3\n  - sink: stdout\n",
		"name: x\nparams: {n: 2}\nsteps:\n  - source: gauss\n  - parallel: ${n}\n    routing: hash\n    key: it\n  - map: it\n  - end_parallel\n  - sink: stdout\n",
		"name: x\nsteps:\n  - source: sequence\n    count: &a [*a]\n",
		"name: x\nsteps:\n  - source: gauss\n    id: s\n  - split: it\n    ways: 3\n  - sink: stdout\n    from: [split.0, split.2, s]\n",
		"name: x\nconsistent: {period: 1s}\nsteps:\n  - source: gauss\n  - dedup\n  - sink: file\n    path: '$${x}'\n",
		"a: &a {<<: *a}\n",
		"name: x\nsteps: [end_parallel, {parallel: 1}, {map: {expr: 1}}]\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), "n=3")
	}
	reg := testRegistry(f)
	f.Fuzz(func(t *testing.T, data []byte, param string) {
		o := Options{Registry: reg, CheckKey: checkKey}
		if k, v, ok := strings.Cut(param, "="); ok {
			o.Params = map[string]string{k: v}
		}
		p, err := Parse("job.yaml", data, o)
		if err != nil {
			var ps topology.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T %v is not a list of problems", err, err)
			}
			for _, msg := range ps {
				if !strings.HasPrefix(msg, "job.yaml") {
					t.Fatalf("problem %q does not name the file", msg)
				}
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid plan: %v", err)
		}
		if _, err := p.Encode(); err != nil {
			t.Fatalf("plan does not encode: %v", err)
		}
	})
}
