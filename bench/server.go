package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ListeningPrefix starts the line the demo server prints on stdout once it
// listens: "twinstream demo listening on http://127.0.0.1:PORT".
const ListeningPrefix = "twinstream demo listening on "

// BuildServer builds the demo server (./cmd/demo of the module in
// moduleDir) into dir and returns the binary's path.
func BuildServer(ctx context.Context, moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "twinstream-demo")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/demo")
	cmd.Dir = moduleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: building the demo server: %w\n%s", err, out)
	}
	return bin, nil
}

// ModuleDir finds the root of the twinstream module from the working
// directory upwards ("" when not inside it).
func ModuleDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/twinstream/twinstream\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// serverProc is a demo server process loadgen spawned.
type serverProc struct {
	bin   string
	args  []string
	url   string
	pprof string // host:port of its --pprof listener ("" without)
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited
	err   error         // exit error, valid after done
	// version is what the program says of its version ("" unknown).
	version string

	logMu sync.Mutex
	log   tailBuffer // the last lines of its stderr, for error reports
}

// spawnServer starts bin with --addr addr (127.0.0.1:0 picks a port) and
// waits for its listening line.
func spawnServer(ctx context.Context, bin, addr string, extra []string) (*serverProc, error) {
	args := append([]string{"--addr", addr}, extra...)
	s := &serverProc{bin: bin, args: args, done: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	// Its own process group: a Ctrl-C at the terminal stops loadgen, which
	// then stops the server; the server must not stop on its own first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = &lockedWriter{mu: &s.logMu, w: &s.log}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting the server %s: %w", bin, err)
	}
	s.cmd = cmd
	urls := make(chan string, 1)
	go func() { // owner: the process; ends when its stdout closes (it exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), ListeningPrefix); ok {
				select {
				case urls <- strings.TrimSpace(u):
				default:
				}
			}
		}
		s.err = cmd.Wait()
		close(s.done)
	}()
	select {
	case u := <-urls:
		s.url = u
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("bench: the server exited before listening (%v): %s", s.err, s.stderrTail())
	case <-time.After(30 * time.Second):
		_ = s.stop(5 * time.Second)
		return nil, fmt.Errorf("bench: the server did not print %q within 30s: %s", ListeningPrefix, s.stderrTail())
	case <-ctx.Done():
		_ = s.stop(5 * time.Second)
		return nil, ctx.Err()
	}
}

func (s *serverProc) pid() int { return s.cmd.Process.Pid }

// addr is the host:port it listens on.
func (s *serverProc) addr() string {
	u, err := url.Parse(s.url)
	if err != nil {
		return ""
	}
	return u.Host
}

// stop sends SIGTERM (graceful shutdown) and kills after timeout.
func (s *serverProc) stop(timeout time.Duration) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("bench: the server did not stop in time and was killed")
	}
}

// kill ends the process at once (the restart scenario's crash).
func (s *serverProc) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *serverProc) stderrTail() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// tailBuffer keeps the last 16 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - 16<<10; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// freeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a
// moment ago (for a spawned server's --pprof).
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startServerProfile fetches a CPU profile of d (whole seconds, at least
// one) from the spawned server's pprof listener into path, in the
// background; the channel yields the outcome once the file is written.
func startServerProfile(ctx context.Context, ts []*target, path string, d time.Duration) <-chan error {
	out := make(chan error, 1)
	var proc *serverProc
	if len(ts) > 0 {
		proc = ts[0].process()
	}
	if proc == nil || proc.pprof == "" {
		out <- errors.New("the server was not spawned with --pprof")
		return out
	}
	secs := max(1, int(math.Round(d.Seconds())))
	u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", proc.pprof, secs)
	go func() { // owner: the caller, which receives from out; ends with the request
		out <- fetchToFile(context.WithoutCancel(ctx), u, path, time.Duration(secs)*time.Second+time.Minute)
	}()
	return out
}

func fetchToFile(ctx context.Context, u, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
