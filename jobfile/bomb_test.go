package jobfile

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAliasBomb checks that a document of nested aliases (a billion laughs) is refused quickly.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: x\nsteps:\n  - source: sequence\n    count: 1\n    a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "    a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	start := time.Now()
	_, err := Parse("job.yaml", []byte(b.String()), opts(t))
	wantProblems(t, err, "job.yaml: the file expands to more than")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
	t.Logf("refused in %v", time.Since(start))
}
