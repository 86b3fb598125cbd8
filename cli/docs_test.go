package cli

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"testing"

	"github.com/weirstream/weir/operator/builtin"
)

var update = flag.Bool("update", false, "rewrite the generated parts of the docs")

// The job-file reference embeds the built-in operators' reference; it must say what the registry says.
func TestJobFileReferenceIsCurrent(t *testing.T) {
	const path = "../docs/job-file.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ref bytes.Buffer
	OperatorReference(&ref, builtin.NewRegistry())
	re := regexp.MustCompile(`(?s)(<!-- builtin-reference[^>]*-->\n).*?(<!-- /builtin-reference -->)`)
	m := re.FindSubmatchIndex(doc)
	if m == nil {
		t.Fatalf("%s has no builtin-reference block", path)
	}
	want := append(append(append([]byte{}, doc[:m[3]]...), bytes.TrimLeft(ref.Bytes(), "\n")...), doc[m[4]:]...)
	if bytes.Equal(doc, want) {
		return
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s is stale: run go test ./cli -run TestJobFileReferenceIsCurrent -update", path)
}
