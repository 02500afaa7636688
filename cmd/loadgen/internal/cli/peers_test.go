package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestTargetFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags("fanout", []string{"--target", "twinstream=http://127.0.0.1:8080,centrifugo=http://127.0.0.1:8000",
		"--api-key", "KEY", "--token-secret", "S"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.cfg.Targets) != 2 || o.cfg.APIKey != "KEY" || o.cfg.TokenSecret != "S" {
		t.Errorf("config %+v", o.cfg)
	}
	for _, bad := range [][]string{
		{"--target", "nats=http://h:1"},
		{"--target", "custom=/does/not/exist.json"},
		{"--spawn", "nginx"},
		{"--spawn", "centrifugo", "--target", "http://h:1"},
	} {
		if _, err := parseFlags("fanout", bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// peers spawns its own servers and says so rather than ignoring --target.
func TestPeersUsage(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	if code := Run(context.Background(), []string{"peers", "--target", "http://127.0.0.1:1"}, nil, &out, &errs); code != ExitUsage {
		t.Errorf("exit %d, want %d (%s)", code, ExitUsage, errs.String())
	}
	if code := Run(context.Background(), []string{"peers", "--peers", "nginx", "--subscribers", "0"}, nil, &out, &errs); code != ExitUsage {
		t.Errorf("exit %d, want %d (%s)", code, ExitUsage, errs.String())
	}
	if !strings.Contains(errs.String(), "spawns its servers") {
		t.Errorf("stderr %q", errs.String())
	}
}

// Entries of one kind are one system; several kinds are compared.
func TestTargetGroups(t *testing.T) {
	t.Parallel()
	g := targetGroups([]string{"http://a:1", "centrifugo=http://c:1", "twinstream=http://b:1"})
	if len(g) != 2 || g[0].label != "twinstream" || len(g[0].targets) != 2 || g[1].label != "centrifugo" {
		t.Errorf("groups %+v", g)
	}
	if g := targetGroups([]string{"http://a:1", "http://b:1"}); len(g) != 1 {
		t.Errorf("one kind: groups %+v", g)
	}
}
