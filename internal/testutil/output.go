package testutil

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ReadInts reads every value of a file sink's directory of integers: the published files of an
// exactly-once sink, or the append files of an at-least-once one (staging names are left out).
func ReadInts(t testing.TB, dir string) []int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			v, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("%s: %q is not an integer", f, sc.Text())
			}
			out = append(out, v)
		}
	}
	return out
}

// CheckExactlyOnce fails unless vals hold mul*i for every i < n exactly once, and nothing else.
func CheckExactlyOnce(t testing.TB, vals []int, n, mul int) {
	t.Helper()
	seen := make([]int, n)
	for _, v := range vals {
		if v%mul != 0 || v/mul < 0 || v/mul >= n {
			t.Fatalf("unexpected value %d", v)
		}
		seen[v/mul]++
	}
	var missing, dup []int
	for i, k := range seen {
		switch {
		case k == 0:
			missing = append(missing, i)
		case k > 1:
			dup = append(dup, i)
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		t.Fatalf("%d values missing (first %v), %d duplicated (first %v)", len(missing), missing[:min(5, len(missing))], len(dup), dup[:min(5, len(dup))])
	}
}
