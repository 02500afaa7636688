// Package nodetest finds the Node.js conformance clients' dependencies
// (npm ws and eventsource, locked in transports/testdata/node) for tests.
package nodetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Deps returns the directory holding the conformance clients' npm
// dependencies, installing them (npm ci, from the committed lockfile) when
// node_modules is incomplete. Without node or npm the test is skipped,
// except under CI=true, where it fails.
func Deps(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI=true: %v", tool, err)
			}
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("nodetest: cannot locate its own source file")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "node")
	for _, pkg := range []string{"ws", "eventsource"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
			}
			break
		}
	}
	return dir
}
