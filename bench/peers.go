package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The peers loadgen can spawn besides the demo server (Config.Spawn):
// Centrifugo v6 with a config file generated per run, and the seed-style
// FastAPI server of bench/peers/fastapi. Each runs fresh per transport, on
// a free loopback port, as its own process group, and is measured from
// /proc like the demo.

// CentrifugoModule is the Centrifugo release loadgen measures; it installs
// it with `go install CentrifugoModule` when it finds no binary.
const CentrifugoModule = "github.com/centrifugal/centrifugo/v6@v6.9.1"

// ErrPeerMissing wraps the error of a peer that is not installed here.
var ErrPeerMissing = errors.New("peer not installed")

// FindCentrifugo returns the Centrifugo binary: bin when given, else
// centrifugo on PATH, else $(go env GOPATH)/bin/centrifugo.
func FindCentrifugo(bin string) (string, error) {
	if bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%w: --centrifugo-bin %s: %v", ErrPeerMissing, bin, err)
		}
		return bin, nil
	}
	if p, err := exec.LookPath("centrifugo"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for dir := range strings.SplitSeq(strings.TrimSpace(string(out)), string(os.PathListSeparator)) {
			p := filepath.Join(dir, "bin", "centrifugo")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w: centrifugo (install it with: go install %s)", ErrPeerMissing, CentrifugoModule)
}

// InstallCentrifugo runs `go install CentrifugoModule` (a few minutes on a
// cold module cache) and returns the binary.
func InstallCentrifugo(ctx context.Context, log io.Writer) (string, error) {
	fmt.Fprintf(log, "installing Centrifugo: go install %s\n", CentrifugoModule)
	cmd := exec.CommandContext(ctx, "go", "install", CentrifugoModule)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", CentrifugoModule, err, out)
	}
	return FindCentrifugo("")
}

// FindPython returns an interpreter that imports fastapi and uvicorn:
// python when given, else /usr/bin/python3 (where Debian's
// python3-fastapi goes), else python3 on PATH.
func FindPython(python string) (string, error) {
	cands := []string{"/usr/bin/python3", "python3"}
	if python != "" {
		cands = []string{python}
	}
	for _, p := range cands {
		if err := exec.Command(p, "-c", "import fastapi, uvicorn, websockets").Run(); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no python with fastapi, uvicorn and websockets (apt-get install python3-fastapi python3-uvicorn python3-websockets)", ErrPeerMissing)
}

// FastAPIDir is the FastAPI peer's directory in the module.
func FastAPIDir(moduleDir string) string {
	return filepath.Join(moduleDir, "bench", "peers", "fastapi")
}

// peerProc starts argv as a server listening at base and waits until
// GET base+health answers 200.
func peerProc(ctx context.Context, argv []string, dir, base, health string, env []string) (*serverProc, error) {
	s := &serverProc{bin: argv[0], args: argv[1:], url: base, done: make(chan struct{})}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = &lockedWriter{mu: &s.logMu, w: &s.log}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting %s: %w", argv[0], err)
	}
	s.cmd = cmd
	go func() { // owner: the process; ends when it exits
		s.err = cmd.Wait()
		close(s.done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("bench: %s exited before listening (%v): %s", argv[0], s.err, s.stderrTail())
		case <-ctx.Done():
			_ = s.stop(5 * time.Second)
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := client.Get(base + health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			_ = s.stop(5 * time.Second)
			return nil, fmt.Errorf("bench: %s did not answer %s within 60s: %s", argv[0], health, s.stderrTail())
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// CentrifugoConfig is the config file loadgen generates for each run (v6
// keys): the HTTP API with key, connection JWTs signed with secret,
// anonymous connections too, unidirectional WebSocket and SSE, Prometheus
// metrics, and channels that keep the history resume needs (1,000
// publications for 5 minutes, recovery forced) and that any client may
// subscribe to through its connect request.
func CentrifugoConfig(port int, apiKey, secret string) map[string]any {
	return map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"log":         map[string]any{"level": "error"},
		"client": map[string]any{
			"allow_anonymous_connect_without_token": true,
			"token":                                 map[string]any{"hmac_secret_key": secret},
		},
		"channel": map[string]any{"without_namespace": map[string]any{
			"allow_subscribe_for_client":    true,
			"allow_subscribe_for_anonymous": true,
			"history_size":                  1000,
			"history_ttl":                   "300s",
			"force_recovery":                true,
		}},
		"http_api":      map[string]any{"key": apiKey},
		"uni_websocket": map[string]any{"enabled": true},
		"uni_sse":       map[string]any{"enabled": true},
		"prometheus":    map[string]any{"enabled": true},
		"health":        map[string]any{"enabled": true},
		"shutdown":      map[string]any{"timeout": "5s"},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// spawnCentrifugo writes a fresh config into dir and starts Centrifugo on
// a free port; it returns the process and the target (API key and token
// secret set).
func spawnCentrifugo(ctx context.Context, bin, dir string) (*serverProc, *target, error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	key, secret := randomHex(16), randomHex(32)
	b, _ := json.MarshalIndent(CentrifugoConfig(port, key, secret), "", "  ")
	path := filepath.Join(dir, fmt.Sprintf("centrifugo-%d.json", port))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	proc, err := peerProc(ctx, []string{bin, "--config", path}, dir, base, "/health", nil)
	if err != nil {
		return nil, nil, err
	}
	proc.version = versionOf(bin)
	t := newTarget(base, proc)
	t.adapter = newCentrifugoAdapter(t, key, secret)
	return proc, t, nil
}

// spawnFastAPI starts the FastAPI peer with uvicorn on a free port and
// returns the process and its target (the committed target file, with the
// spawned server's base URL).
func spawnFastAPI(ctx context.Context, python, moduleDir string) (*serverProc, *target, error) {
	dir := FastAPIDir(moduleDir)
	f, err := LoadTargetFile(filepath.Join(dir, "target.json"))
	if err != nil {
		return nil, nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	f.BaseURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	argv := []string{python, "-m", "uvicorn", "app:app", "--app-dir", dir, "--host", "127.0.0.1",
		"--port", fmt.Sprint(port), "--log-level", "warning", "--no-access-log", "--backlog", "4096"}
	// No __pycache__ in the checkout.
	proc, err := peerProc(ctx, argv, dir, f.BaseURL, "/healthz", []string{"PYTHONDONTWRITEBYTECODE=1"})
	if err != nil {
		return nil, nil, err
	}
	proc.version = pythonVersions(python)
	return proc, customTarget(f, proc), nil
}

// versionOf is what a binary says about itself: for a Go binary the main
// module's version from its build info (`go version -m`), which a
// go-installed Centrifugo reports as v0.0.0 itself.
func versionOf(bin string) string {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" {
			return f[1] + " " + f[2]
		}
	}
	return ""
}

// pythonVersions names the FastAPI peer's stack: Python, FastAPI, uvicorn,
// websockets.
func pythonVersions(python string) string {
	out, err := exec.Command(python, "-c", "import sys, fastapi, uvicorn, websockets; "+
		"print('python', sys.version.split()[0], 'fastapi', fastapi.__version__, 'uvicorn', uvicorn.__version__, 'websockets', websockets.__version__)").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
