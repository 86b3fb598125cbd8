package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// weirPackage is the weir command, as the go tool names it.
const weirPackage = "github.com/weirstream/weir/cmd/weir"

// BuildWeir compiles the weir command of the module the go tool finds from the working directory into
// out: for tests and tools run from a checkout. A static build (CGO_ENABLED=0, -trimpath) is what an
// image FROM scratch needs.
func BuildWeir(ctx context.Context, out string, static bool) error {
	args := []string{"build", "-o", out}
	if static {
		args = append(args, "-trimpath")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, weirPackage)...)
	if static {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build weir: %v\n%s", err, b)
	}
	return nil
}

// SourceImage is an image of the checkout's weir for a test binary's Docker tests: built on first use,
// once, and removed by Remove (from TestMain). The zero value is ready.
type SourceImage struct {
	once sync.Once
	tag  string
	// unavailable says why no Docker engine can be used; err is why the build failed.
	unavailable string
	err         error
}

// Get returns the image's tag, building it with dockerfile first. It returns unavailable (with an empty
// tag) where Docker cannot be used, so that the caller can skip, and err when the build failed.
func (s *SourceImage) Get(dockerfile string) (tag, unavailable string, err error) {
	s.once.Do(func() {
		if err := DockerAvailable(context.Background()); err != nil {
			s.unavailable = err.Error()
			return
		}
		dir, err := os.MkdirTemp("", "weir-static-")
		if err != nil {
			s.err = err
			return
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bin := filepath.Join(dir, "weir")
		if s.err = BuildWeir(ctx, bin, true); s.err != nil {
			return
		}
		tag := "weir-test:" + randomHex(4)
		if s.err = BuildImage(ctx, tag, dockerfile, bin); s.err == nil {
			s.tag = tag
		}
	})
	return s.tag, s.unavailable, s.err
}

// TB is what the Docker test helpers need of a *testing.T (this package is part of the weir binary, which
// does not link the testing package).
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
}

// ForTest returns the image's tag for a Docker test, building it with dockerfile first. Where Docker cannot
// be used, or with -short (short), it skips the test, unless WEIR_DOCKER=1 requires Docker, which fails it.
func (s *SourceImage) ForTest(t TB, short bool, dockerfile string) string {
	t.Helper()
	if short {
		t.Skip("Docker test: skipped with -short")
	}
	tag, unavailable, err := s.Get(dockerfile)
	if unavailable != "" {
		SkipWithoutDocker(t, unavailable)
	}
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// SkipWithoutDocker skips a test for the reason given, or fails it when WEIR_DOCKER=1 requires Docker.
func SkipWithoutDocker(t TB, why string) {
	t.Helper()
	if DockerRequired() {
		t.Fatalf("WEIR_DOCKER=1 requires the Docker tests to run, but %s", why)
	}
	t.Skipf("Docker test skipped: %s", why)
}

// Remove removes the image, if one was built.
func (s *SourceImage) Remove() {
	if s.tag == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = docker(ctx, "rmi", "-f", s.tag)
}

// DockerRequired reports whether the environment (WEIR_DOCKER=1, as CI sets it) says the Docker tests must
// run: a missing engine then fails them instead of skipping them.
func DockerRequired() bool { return os.Getenv("WEIR_DOCKER") == "1" }

// RunWithWeir is the TestMain of suites that start weir agents: unless short (their multi-process tests
// skip then), it builds the checkout's weir into a temporary directory and sets *bin (without -race: the
// agents are separate processes); it runs m, then after (if any), removes the binary and returns m's code.
func RunWithWeir(m interface{ Run() int }, short bool, bin *string, after func()) int {
	if short {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "weir-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bin = filepath.Join(dir, "weir")
	if err := BuildWeir(context.Background(), *bin, false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if after != nil {
		after()
	}
	return code
}
