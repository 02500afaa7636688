package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// workerHandle is the parent's end of one worker (a process, or a
// goroutine for in-process runs).
type workerHandle struct {
	id    int
	mu    sync.Mutex // serialises writes to in
	in    io.WriteCloser
	enc   *json.Encoder
	cmd   *exec.Cmd     // nil in-process
	ended chan struct{} // closed when its output ended (it exited)
}

// launchWorker starts worker id: a client worker (RunWorker, `loadgen
// worker`), or with floor a floor reader (RunFloorReader, `loadgen
// floor-reader`). Its messages go to msgs until it exits; the reader
// goroutine it starts ends when the worker's output ends.
func (r *Runner) launchWorker(ctx context.Context, id int, floor bool, msgs chan<- message) (*workerHandle, error) {
	h := &workerHandle{id: id, ended: make(chan struct{})}
	var out io.ReadCloser
	if r.Config.InProcess {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		h.in, out = inW, outR
		run := RunWorker
		if floor {
			run = RunFloorReader
		}
		go func() { // owner: the handle; ends when the parent closes in (or ctx ends)
			err := run(context.WithoutCancel(ctx), inR, outW)
			_ = inR.CloseWithError(io.EOF)
			outW.CloseWithError(err)
		}()
	} else {
		argv := r.WorkerCommand
		if floor {
			argv = r.floorCommand("floor-reader")
		} else if len(argv) == 0 {
			exe, err := os.Executable()
			if err != nil {
				return nil, err
			}
			argv = []string{exe, "worker"}
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		// Own process group: workers stop when the parent closes their stdin,
		// not on the terminal's Ctrl-C, so an interrupted run keeps its figures.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = prefixWriter(r.logw(), fmt.Sprintf("worker %d: ", id))
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("bench: starting worker %d: %w", id, err)
		}
		h.in, out, h.cmd = in, stdout, cmd
	}
	h.enc = json.NewEncoder(h.in)
	go func() { // owner: the handle; ends when the worker's output ends
		defer close(h.ended)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 256<<20)
		for sc.Scan() {
			var m message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = message{Type: msgError, Error: fmt.Sprintf("bad worker output: %v", err)}
			}
			m.worker = id
			msgs <- m
		}
		if h.cmd != nil {
			_ = h.cmd.Wait()
		}
	}()
	return h, nil
}

func (h *workerHandle) send(c command) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.enc.Encode(c); err != nil {
		return fmt.Errorf("bench: worker %d: %w", h.id, err)
	}
	return nil
}

// close ends the worker: its stdin closes, which stops it; a process that
// does not exit within timeout is killed.
func (h *workerHandle) close(timeout time.Duration) {
	h.mu.Lock()
	_ = h.in.Close()
	h.mu.Unlock()
	select {
	case <-h.ended:
	case <-time.After(timeout):
		if h.cmd != nil && h.cmd.Process != nil {
			_ = h.cmd.Process.Kill()
		}
		<-h.ended
	}
}

// prefixWriter prefixes each line written to w.
func prefixWriter(w io.Writer, prefix string) io.Writer {
	return &linePrefixer{w: w, prefix: prefix}
}

type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := indexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		_, _ = fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
