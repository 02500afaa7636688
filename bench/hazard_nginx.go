package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NginxPath finds Debian's nginx: on PATH or /usr/sbin/nginx ("" when
// missing; .ci/test installs it).
func NginxPath() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

// nginxLocation is one location of the generated config: a path prefix
// proxied to an upstream (host:port) with extra directives.
type nginxLocation struct {
	prefix     string // "/buffered/"
	upstream   string // "127.0.0.1:PORT"
	directives []string
}

// nginxProc is an nginx started by the hazards scenario with a generated
// config, on a loopback port of its own, in the foreground (one process,
// no master: it runs as whoever runs loadgen), logging into its directory.
type nginxProc struct {
	addr string // 127.0.0.1:PORT
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// nginxConfig renders a config for locs on addr with dir for every file
// nginx writes. Every location is exactly nginx's defaults plus its
// directives: proxy_buffering on, proxy_http_version 1.0, no Upgrade
// headers passed on, proxy_read_timeout 60s.
func nginxConfig(addr, dir string, locs []nginxLocation) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	p("daemon off;")
	p("master_process off;")
	p("worker_processes 1;")
	p("pid %s;", filepath.Join(dir, "nginx.pid"))
	p("error_log %s warn;", filepath.Join(dir, "error.log"))
	p("events { worker_connections 1024; }")
	p("http {")
	p("  access_log off;")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		p("  %s_temp_path %s;", t, filepath.Join(dir, t))
	}
	p("  map $http_upgrade $connection_upgrade { default upgrade; '' close; }")
	p("  server {")
	p("    listen %s;", addr)
	for _, l := range locs {
		p("    location %s {", l.prefix)
		p("      proxy_pass http://%s/;", l.upstream)
		for _, d := range l.directives {
			p("      %s;", d)
		}
		p("    }")
	}
	p("  }")
	p("}")
	return b.String()
}

// startNginx writes the config into a new directory under base and starts
// nginx on a free loopback port; it waits until the port accepts.
func startNginx(ctx context.Context, bin, base string, locs []nginxLocation) (*nginxProc, error) {
	if bin == "" {
		return nil, errors.New("nginx not found (apt-get install nginx)")
	}
	dir, err := os.MkdirTemp(base, "nginx-")
	if err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(addr, dir, locs)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := os.Create(filepath.Join(dir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting nginx: %w", err)
	}
	n := &nginxProc{addr: addr, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { // owner: n; ends when nginx exits (stop)
		_ = cmd.Wait()
		out.Close()
		close(n.done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-n.done:
			return nil, fmt.Errorf("nginx exited: %s", n.log())
		case <-ctx.Done():
			n.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("nginx did not listen on %s: %s", addr, n.log())
		}
	}
}

// url is the proxy's base URL.
func (n *nginxProc) url() string { return "http://" + n.addr }

// log is what nginx wrote to stderr and its error log.
func (n *nginxProc) log() string {
	a, _ := os.ReadFile(filepath.Join(n.dir, "stderr.log"))
	b, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
	return strings.TrimSpace(string(a) + string(b))
}

// stop ends nginx (SIGQUIT, then SIGKILL) and removes its directory.
func (n *nginxProc) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-n.done:
	case <-time.After(3 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
	_ = os.RemoveAll(n.dir)
}
