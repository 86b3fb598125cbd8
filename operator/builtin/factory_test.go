package builtin

import (
	"strings"
	"testing"

	"github.com/weirstream/weir/operator"
)

func TestFactoryConfiguresABuiltin(t *testing.T) {
	f, err := Factory(operator.RoleSink, "file", map[string]any{"path": t.TempDir(), "exactly_once": true})
	if err != nil {
		t.Fatal(err)
	}
	if f.In() == nil || f.In().String() != "any" || len(f.Outs()) != 0 {
		t.Fatalf("a file sink takes any and emits nothing: %v %v", f.In(), f.Outs())
	}
	if _, err := Factory(operator.RoleSink, "file", map[string]any{"paht": "x"}); err == nil || !strings.Contains(err.Error(), "paht") {
		t.Fatalf("an unknown parameter: %v", err)
	}
	if _, err := Factory(operator.RoleSink, "nosuch", nil); err == nil || !strings.Contains(err.Error(), "verify_order") {
		t.Fatalf("an unknown kind must list the known ones: %v", err)
	}
}
