package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// childEnv makes the test binary run main() itself (with the arguments in
// childArgsEnv, one per line), so the tests can exercise the real process:
// stdout contract, signals, exit status.
const (
	childEnv     = "TWINSTREAM_DEMO_TEST_CHILD"
	childArgsEnv = "TWINSTREAM_DEMO_TEST_ARGS"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Args = append([]string{"demo"}, strings.Fields(os.Getenv(childArgsEnv))...)
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"help", []string{"-h"}, 0, "Usage: demo"},
		{"unknown flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"bad value", []string{"--max-conns", "lots"}, 2, "max-conns"},
		{"invalid combination", []string{"--heartbeat", "1m", "--idle-timeout", "30s"}, 2, "--idle-timeout"},
		{"listen error", []string{"--addr", "192.0.2.1:1"}, 1, "listening on 192.0.2.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			got := run(context.Background(), tt.args, &stdout, &stderr)
			if got != tt.status || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("run(%q) = %d, stderr %q; want %d and %q", tt.args, got, stderr.String(), tt.status, tt.stderr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// readBanner reads the listening line and returns the URL.
func readBanner(t *testing.T, r io.Reader) string {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v (got %q)", err, line)
	}
	url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), server.ListenBanner)
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("listening line %q, want %q + http://127.0.0.1:<port>", line, server.ListenBanner)
	}
	return url
}

func healthz(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	res, err := c.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h struct{ Status string }
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil || h.Status != "ok" {
		t.Fatalf("healthz: %v %+v", err, h)
	}
}

// TestRunServesUntilCancelled runs the server in-process on a free port.
func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	status := make(chan int, 1)
	go func() { // owner: this test; ends when run returns after cancel, and the test waits for status
		status <- run(ctx, []string{"--addr", "127.0.0.1:0", "--log-level", "error"}, pw, &stderr)
		pw.Close()
	}()
	url := readBanner(t, pr)
	go io.Copy(io.Discard, pr) //nolint:errcheck // owner: this test; drains until run's goroutine closes pw
	healthz(t, url)
	cancel()
	select {
	case got := <-status:
		if got != 0 {
			t.Fatalf("run = %d, stderr %s", got, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// TestBinarySignals runs the real process: it prints the listening line,
// serves, and exits 0 after SIGTERM.
func TestBinarySignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", childArgsEnv+"=--addr 127.0.0.1:0 --log-level info")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill() //nolint:errcheck // no-op once it exited
			url := readBanner(t, stdout)
			healthz(t, url)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, _ = io.Copy(io.Discard, stdout); done <- cmd.Wait() }() // owner: this test; ends when the process exits (killed at the latest by the deferred Kill)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no exit after %v; stderr:\n%s", sig, stderr.String())
			}
			if !strings.Contains(stderr.String(), "msg=stopped") {
				t.Errorf("stderr lacks the shutdown log:\n%s", stderr.String())
			}
		})
	}
}
