package server_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// Issue 10, "UTF-8 not checked": invalid text frames were accepted (the
// bytes became U+FFFD) and invalid close reasons echoed back. RFC 6455
// §8.1 wants close 1007 for both.

func TestInvalidUTF8TextFrameCloses1007(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	rc := ts.dialRaw()
	if res := rc.upgrade("/ws?topic=news", strings.TrimPrefix(ts.url, "http://")); res.StatusCode != 101 {
		t.Fatalf("upgrade: %d", res.StatusCode)
	}
	// A command whose topic holds a byte that is not UTF-8.
	if err := rc.frame(opText, []byte("{\"type\":\"subscribe\",\"topic\":\"n\xffws\"}")); err != nil {
		t.Fatal(err)
	}
	if code, reason := rc.closeFrame(); code != 1007 {
		t.Fatalf("close %d %q, want 1007", code, reason)
	}
	// A valid frame on another connection still works.
	w := ts.dialWS("/ws?topic=news").attached(1)
	w.send(`{"type":"ping","ts":1,"id":"ünïcode"}`)
	if b := w.nextControl(); !strings.Contains(string(b), `"pong"`) || !strings.Contains(string(b), "ünïcode") {
		t.Fatalf("got %s, want a pong echoing the id", b)
	}
}

func TestInvalidUTF8CloseReasonCloses1007(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	host := strings.TrimPrefix(ts.url, "http://")
	for _, tt := range []struct {
		name   string
		reason string
		want   int
	}{
		{"invalid reason", "bye \xc3\x28", 1007},
		{"valid reason is echoed", "bye ✓", 1000},
	} {
		rc := ts.dialRaw()
		if res := rc.upgrade("/ws?topic=news", host); res.StatusCode != 101 {
			t.Fatalf("upgrade: %d", res.StatusCode)
		}
		if err := rc.frame(opClose, closePayload(1000, tt.reason)); err != nil {
			t.Fatal(err)
		}
		code, reason := rc.closeFrame()
		if code != tt.want || !utf8.ValidString(reason) {
			t.Errorf("%s: server closed %d %q, want %d with a UTF-8 reason", tt.name, code, reason, tt.want)
		}
	}
}
