package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// fails reports whether f fails the test it is given.
func fails(f func(t testing.TB)) (failed bool) {
	tb := &fakeTB{}
	defer func() {
		if r := recover(); r != nil && r != tb {
			panic(r)
		}
		failed = tb.failed != ""
	}()
	f(tb)
	return false
}

func TestCheckExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "part-0-1.jsonl"), []byte("0\n4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "part-1-1.jsonl"), []byte("2\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "_staging"), []byte("6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vals := ReadInts(t, dir)
	CheckExactlyOnce(t, vals, 3, 2)
	for name, bad := range map[string][]int{
		"missing": {0, 2}, "duplicated": {0, 2, 4, 4}, "out of range": {0, 2, 4, 6}, "not a multiple": {0, 2, 3, 4},
	} {
		if !fails(func(tb testing.TB) { CheckExactlyOnce(tb, bad, 3, 2) }) {
			t.Errorf("%s: %v passed as 0, 2, 4 exactly once", name, bad)
		}
	}
}
