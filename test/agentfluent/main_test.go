package agentfluent_test

import (
	"github.com/socx/sharkfin/internal/e2etest"

	"github.com/socx/sharkfin/internal/forwardtest"

	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bins are the binaries TestMain builds once for the whole run.
var bins struct {
	dir      string
	sharkfin string
	receiver string
	err      error // why they could not be built
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sharkfin-agentfluent-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins.dir = dir
	flag.Parse()
	if !testing.Short() {
		bins.err = buildBinaries(dir)
	}
	return m.Run()
}

// buildBinaries builds bin/sharkfin from the module root and the test
// receiver from its own module.
func buildBinaries(dir string) error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	bins.sharkfin = filepath.Join(dir, "sharkfin")
	cmd := exec.Command("go", "build", "-o", bins.sharkfin, "./cmd/sharkfin")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sharkfin in %s: %w\n%s", root, err, out)
	}
	bins.receiver, err = forwardtest.Build(root, dir)
	if err != nil {
		return err
	}
	return nil
}

// needBinaries skips the test with -short and fails it when the build did.
func needBinaries(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test of the sharkfin binary and a forward receiver: skipped with -short")
	}
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// long reports whether the longer variants were asked for.
func long() bool { return e2etest.Long() }
