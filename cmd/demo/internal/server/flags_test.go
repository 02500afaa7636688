package server_test

import (
	"errors"
	"flag"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/transports"
)

func TestParseFlags(t *testing.T) {
	defaults := server.Config{
		Addr: "127.0.0.1:8080", History: 1000, QueueSize: 4096, QueueBytes: 1 << 20, HistoryBytes: 512 << 20, TopicTTL: 10 * time.Minute, MaxTopicsPerConn: 128, SSERetrySpread: 0.5, Heartbeat: 15 * time.Second,
		IdleTimeout: 45 * time.Second, WriteTimeout: 10 * time.Second, SSERetry: 2 * time.Second,
		ReadLimit: 32 << 10, MaxConns: 19500, Workers: 8, TaskQueue: 1000, MaxBody: 64 << 10,
		ShutdownTimeout: 10 * time.Second, WSCompression: "disabled", Role: "all",
		Hardening: server.Hardening{
			CommandRate: transports.Rate{PerSecond: 100, Burst: 200}, PublishRate: transports.Rate{PerSecond: 1000, Burst: 1000},
			ConnRate: transports.Rate{PerSecond: 1000, Burst: 5000}, HeaderTimeout: 10 * time.Second,
			BodyTimeout: 10 * time.Second, HTTPIdleTimeout: time.Minute,
		},
	}
	with := func(f func(*server.Config)) server.Config { c := defaults; f(&c); return c }
	tests := []struct {
		name    string
		args    []string
		env     string // $TWINSTREAM_ADMIN_TOKEN
		authEnv string // $TWINSTREAM_AUTH_SECRET
		want    server.Config
		level   slog.Level
		err     string // substring; "" = success
	}{
		{name: "defaults", want: defaults},
		{name: "all flags", args: []string{
			"--addr", "0.0.0.0:9000", "--history", "50", "--heartbeat", "2s", "--idle-timeout", "5s",
			"--write-timeout", "3s", "--max-conns", "100", "--max-conns-per-ip", "10",
			"--allow-origin", "example.com,*.example.org", "--allow-origin", "https://x.test",
			"--admin-token", "s3cret", "--sse-retry", "500ms", "--read-limit", "1024", "--queue-size", "64", "--queue-bytes", "4096",
			"--workers", "2", "--task-queue", "5", "--max-body", "2048", "--shutdown-timeout", "1s", "--log-level", "debug",
			"--cmd-rate", "5", "--cmd-burst", "6", "--publish-rate", "7.5", "--publish-burst", "8", "--conn-rate", "9",
			"--conn-burst", "10", "--auth-secret", "0123456789abcdef0123456789abcdef", "--header-timeout", "2s",
			"--body-timeout", "3s", "--http-idle-timeout", "4s",
		}, want: server.Config{
			Addr: "0.0.0.0:9000", History: 50, Heartbeat: 2 * time.Second, IdleTimeout: 5 * time.Second,
			WriteTimeout: 3 * time.Second, MaxConns: 100, MaxConnsPerIP: 10,
			AllowOrigins: []string{"example.com", "*.example.org", "https://x.test"}, AdminToken: "s3cret",
			SSERetry: 500 * time.Millisecond, ReadLimit: 1024, QueueSize: 64, QueueBytes: 4096, HistoryBytes: 512 << 20, TopicTTL: 10 * time.Minute, MaxTopicsPerConn: 128, SSERetrySpread: 0.5, Workers: 2, TaskQueue: 5,
			MaxBody: 2048, ShutdownTimeout: time.Second, WSCompression: "disabled", Role: "all",
			Hardening: server.Hardening{
				CommandRate: transports.Rate{PerSecond: 5, Burst: 6}, PublishRate: transports.Rate{PerSecond: 7.5, Burst: 8},
				ConnRate: transports.Rate{PerSecond: 9, Burst: 10}, AuthSecret: "0123456789abcdef0123456789abcdef",
				HeaderTimeout: 2 * time.Second, BodyTimeout: 3 * time.Second, HTTPIdleTimeout: 4 * time.Second,
			},
		}, level: slog.LevelDebug},
		{name: "tls files", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"},
			want: with(func(c *server.Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" })},
		{name: "tls self-signed, compression", args: []string{"--tls-self-signed", "--ws-compression", "no-context-takeover"},
			want: with(func(c *server.Config) { c.TLSSelfSigned, c.WSCompression = true, "no-context-takeover" })},
		{name: "sse gzip", args: []string{"--sse-gzip"}, want: with(func(c *server.Config) { c.SSEGzip = true })},
		{name: "tls cert without key", args: []string{"--tls-cert", "c.pem"}, err: "--tls-cert"},
		{name: "tls self-signed and files", args: []string{"--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, err: "--tls-self-signed"},
		{name: "bad compression", args: []string{"--ws-compression", "gzip"}, err: "--ws-compression"},
		{name: "single dash and =", args: []string{"-addr=127.0.0.1:0", "-log-level=warn"},
			want: with(func(c *server.Config) { c.Addr = "127.0.0.1:0" }), level: slog.LevelWarn},
		{name: "history 0 keeps none", args: []string{"--history", "0"}, want: with(func(c *server.Config) { c.History = -1 })},
		{name: "pprof", args: []string{"--pprof", "127.0.0.1:6060"}, want: with(func(c *server.Config) { c.PprofAddr = "127.0.0.1:6060" })},
		{name: "no caps", args: []string{"--max-conns", "0"}, want: with(func(c *server.Config) { c.MaxConns = 0 })},
		{name: "token from env", env: "envtok", want: with(func(c *server.Config) { c.AdminToken = "envtok" })},
		{name: "auth secret from env", authEnv: "0123456789abcdef0123456789abcdef", want: with(func(c *server.Config) { c.AuthSecret = "0123456789abcdef0123456789abcdef" })},
		{name: "no rate limits", args: []string{"--cmd-rate", "0", "--publish-rate", "0", "--conn-rate", "0"},
			want: with(func(c *server.Config) {
				c.CommandRate.PerSecond, c.PublishRate.PerSecond, c.ConnRate.PerSecond = 0, 0, 0
			})},
		{name: "short auth secret", args: []string{"--auth-secret", "hunter2"}, err: "--auth-secret"},
		{name: "negative rate", args: []string{"--publish-rate", "-1"}, err: "--publish-rate"},
		{name: "flag token wins", args: []string{"--admin-token", "flagtok"}, env: "envtok", want: with(func(c *server.Config) { c.AdminToken = "flagtok" })},

		{name: "unknown flag", args: []string{"--port", "80"}, err: "flag provided but not defined: -port"},
		{name: "positional", args: []string{"serve"}, err: `unexpected argument "serve"`},
		{name: "bad addr", args: []string{"--addr", "localhost"}, err: "--addr"},
		{name: "bad pprof addr", args: []string{"--pprof", "6060"}, err: "--pprof"},
		{name: "bad duration", args: []string{"--heartbeat", "often"}, err: "heartbeat"},
		{name: "zero heartbeat", args: []string{"--heartbeat", "0s"}, err: "--heartbeat: must be positive"},
		{name: "negative idle", args: []string{"--idle-timeout", "-1s"}, err: "--idle-timeout: must be positive"},
		{name: "idle not above heartbeat", args: []string{"--heartbeat", "10s", "--idle-timeout", "10s"}, err: "--idle-timeout"},
		{name: "negative history", args: []string{"--history", "-1"}, err: "--history"},
		{name: "negative max conns", args: []string{"--max-conns", "-1"}, err: "--max-conns"},
		{name: "negative per ip", args: []string{"--max-conns-per-ip", "-5"}, err: "--max-conns-per-ip"},
		{name: "zero workers", args: []string{"--workers", "0"}, err: "--workers"},
		{name: "zero task queue", args: []string{"--task-queue", "0"}, err: "--task-queue"},
		{name: "zero queue size", args: []string{"--queue-size", "0"}, err: "--queue-size"},
		{name: "zero read limit", args: []string{"--read-limit", "0"}, err: "--read-limit"},
		{name: "empty origin", args: []string{"--allow-origin", "a.com,,b.com"}, err: "empty origin pattern"},
		{name: "bad origin pattern", args: []string{"--allow-origin", "[x"}, err: "--allow-origin"},
		{name: "bad level", args: []string{"--log-level", "loud"}, err: "log-level"},
		{name: "several errors", args: []string{"--workers", "0", "--max-body", "0"}, err: "--workers: must be positive\n--max-body: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(server.AdminTokenEnv, tt.env)
			t.Setenv(server.AuthSecretEnv, tt.authEnv)
			var out strings.Builder
			got, level, err := server.ParseFlags(tt.args, &out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseFlags(%q) error %v, want %q", tt.args, err, tt.err)
				}
				if out.Len() != 0 {
					t.Errorf("usage printed on error: %q", out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFlags(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseFlags(%q) =\n%+v\nwant\n%+v", tt.args, got, tt.want)
			}
			if level != tt.level {
				t.Errorf("level %v, want %v", level, tt.level)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var out strings.Builder
	_, _, err := server.ParseFlags([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"-addr", "-history", "-heartbeat", "-idle-timeout", "-max-conns", "-max-conns-per-ip", "-allow-origin", "-admin-token", "-pprof"} {
		if !strings.Contains(out.String(), name+" ") {
			t.Errorf("usage lacks %s:\n%s", name, out.String())
		}
	}
}
