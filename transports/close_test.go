package transports_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/transports"
)

func TestReasonFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want *transports.CloseReason
	}{
		{fmt.Errorf("task 7: %w", transports.ReasonNotFound), transports.ReasonNotFound},
		{transports.ReasonSlowConsumer, transports.ReasonSlowConsumer},
		{fmt.Errorf("attach: %w", transports.ErrEnded), transports.ReasonDone},
		{transports.ErrClosed, transports.ReasonShutdown},
		{fmt.Errorf("%w: a b", transports.ErrInvalidTopic), transports.ReasonBadRequest},
		{errors.New("store is down"), transports.ReasonInternal},
		{nil, transports.ReasonInternal},
	} {
		if got := transports.ReasonFor(tc.err); got != tc.want {
			t.Errorf("ReasonFor(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestCloseReasonsTyped checks each reason's typed SSE behaviour and the
// description generated from it.
func TestCloseReasonsTyped(t *testing.T) {
	t.Parallel()
	for _, r := range transports.CloseReasons {
		if r.SSE != r.SSEText() {
			t.Errorf("%s: SSE %q, want the generated %q", r.Code, r.SSE, r.SSEText())
		}
		switch r.SSEStatus {
		case 0, http.StatusOK, http.StatusNoContent, http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError:
		default:
			t.Errorf("%s: SSEStatus %d is not one the SSE transport answers", r.Code, r.SSEStatus)
		}
	}
	// What the code does: a slow consumer's connection is cut; an ended
	// stream's reconnect gets 204; a refusal that should be retried is 200.
	if transports.ReasonSlowConsumer.SSEEnd != transports.SSECut {
		t.Errorf("slow consumer: SSEEnd %v, want SSECut", transports.ReasonSlowConsumer.SSEEnd)
	}
	if transports.ReasonDone.SSEStatus != http.StatusNoContent || transports.ReasonTooManyConnections.SSEStatus != http.StatusOK {
		t.Error("done must answer 204 and too_many_connections 200")
	}
}

// markdown drops the emphasis and code marks of a README cell.
var markdown = strings.NewReplacer("**", "", "`", "")

// TestCloseReasonsREADME checks the README's close table against
// CloseReasons: one row per reason, with its WebSocket close code, its SSE
// behaviour in the generated words (SSEText) and "stop" exactly for the
// reasons a client should not retry.
func TestCloseReasonsREADME(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		cells := tableCells(line)
		switch {
		case len(cells) >= 4 && cells[0] == "reason" && cells[1] == "WebSocket" && cells[2] == "SSE":
			in = true
		case in && cells == nil:
			in = false
		case in && !strings.HasPrefix(cells[0], "---"):
			rows = append(rows, cells)
		}
	}
	if len(rows) == 0 {
		t.Fatal("README.md has no close table (| reason | WebSocket | SSE | client should |)")
	}
	code := regexp.MustCompile(`close (\d{4})`)
	seen := map[*transports.CloseReason]bool{}
	for _, row := range rows {
		if len(row) != 4 {
			t.Errorf("row %q: %d cells, want 4", row, len(row))
			continue
		}
		m := code.FindStringSubmatch(row[1])
		r := reasonByWS(m)
		if r == nil {
			t.Errorf("row %q: its WebSocket cell names no close code of CloseReasons", row)
			continue
		}
		if seen[r] {
			t.Errorf("reason %s has two rows", r.Code)
		}
		seen[r] = true
		if got := markdown.Replace(row[2]); got != r.SSE {
			t.Errorf("%s (close %d): SSE cell %q, want %q", r.Code, r.WSStatus, got, r.SSE)
		}
		if stop := row[3] == "stop"; stop == r.Retry {
			t.Errorf("%s: client should %q, but Retry is %v", r.Code, row[3], r.Retry)
		}
	}
	for _, r := range transports.CloseReasons {
		if !seen[r] {
			t.Errorf("README close table has no row for %s (close %d)", r.Code, r.WSStatus)
		}
	}
}

// TestCloseReasonsPackageDocs checks the close tables of the transports'
// package docs: ws lists every close code with what a client should do,
// sse every reason's code with its SSE behaviour in the generated words.
func TestCloseReasonsPackageDocs(t *testing.T) {
	t.Parallel()
	ws := docBlock(t, "ws/doc.go", "# Close codes")
	for _, r := range transports.CloseReasons {
		line := blockLine(ws, fmt.Sprint(r.WSStatus))
		switch {
		case line == "":
			t.Errorf("ws/doc.go: no close code %d (%s)", r.WSStatus, r.Code)
		case strings.Contains(line, "client: stop") == r.Retry:
			t.Errorf("ws/doc.go: %q, but %s has Retry %v", line, r.Code, r.Retry)
		}
	}
	sse := docBlock(t, "sse/doc.go", "# Ending and limits")
	for _, r := range transports.CloseReasons {
		line := blockLine(sse, r.Code)
		if got := strings.TrimSpace(strings.TrimPrefix(line, r.Code)); got != r.SSE {
			t.Errorf("sse/doc.go: %s: %q, want %q", r.Code, got, r.SSE)
		}
	}
}

// tableCells splits a Markdown table row into trimmed cells, or returns nil
// for a line that is not one.
func tableCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func reasonByWS(m []string) *transports.CloseReason {
	if m == nil {
		return nil
	}
	for _, r := range transports.CloseReasons {
		if fmt.Sprint(r.WSStatus) == m[1] {
			return r
		}
	}
	return nil
}

// docBlock returns the lines of the code blocks (tab-indented) in the
// section of a doc.go file that starts at heading.
func docBlock(t *testing.T, path, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		text, ok := strings.CutPrefix(line, "//")
		if !ok {
			continue
		}
		switch {
		case strings.TrimSpace(text) == heading:
			in = true
		case in && strings.HasPrefix(text, " # "):
			in = false
		case in && strings.HasPrefix(text, "\t"):
			out = append(out, strings.TrimSpace(text))
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no code block under %q", path, heading)
	}
	return out
}

// blockLine returns the line of block whose first word is key, or "".
func blockLine(block []string, key string) string {
	for _, l := range block {
		if first, _, _ := strings.Cut(l, " "); first == key {
			return l
		}
	}
	return ""
}
