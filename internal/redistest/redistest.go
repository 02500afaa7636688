// Package redistest runs a redis-server of a test's own on a random
// loopback port. Under CI=true a missing redis-server fails the test;
// elsewhere the test is skipped with a message.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server started for a test. Stop and Start restart it on
// the same port (and, with persistence, the same data directory); the test's
// cleanup stops it.
type Server struct {
	t       testing.TB
	Addr    string // 127.0.0.1:port
	persist bool
	dir     string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Options choose how the server keeps data.
type Options struct {
	// Persist keeps data across a restart (an append-only file fsynced on
	// every write); without it a restart loses everything (--save '',
	// --appendonly no), like a cache node that went away.
	Persist bool
}

// Start starts a redis-server for t.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (CI=true: .ci/test installs it)")
		}
		t.Skip("redis-server is not installed: skipping a test that needs Redis (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &Server{t: t, Addr: addr, persist: opts.Persist, dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Start starts the server again after Stop (on the same port).
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: already running")
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--dir", s.dir, "--save", "", "--daemonize", "no",
		"--protected-mode", "no", "--loglevel", "warning"}
	if s.persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	cmd := exec.Command("redis-server", args...)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: starting redis-server: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	var log strings.Builder
	go func() { // owner: this server; ends when redis-server exits (Stop waits for it)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
		_ = cmd.Wait()
		close(s.exited)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s.ping() == nil {
			return
		}
		select {
		case <-s.exited:
			s.t.Fatalf("redistest: redis-server exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatal("redistest: redis-server did not answer PING within 10s")
		}
	}
}

// ping sends PING and reads +PONG (also false while Redis loads its data).
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redistest: PING answered %q", line)
	}
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
// Without persistence everything it held is lost.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Do runs one command through a fresh connection (for checks such as
// DBSIZE) and returns its first reply line.
func (s *Server) Do(ctx context.Context, args ...string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}
