package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// A scenario leaves no goroutine behind: every job it starts ends, and so does the baseline's reader.
// (goleak.VerifyTestMain, plus the removal of the weir binary BenchmarkRecovery built.)
func TestMain(m *testing.M) {
	code := m.Run()
	if weirBin != "" {
		os.RemoveAll(filepath.Dir(weirBin))
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
