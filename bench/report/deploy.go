package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/twinstream/twinstream/bench"
)

// writeHazards renders a hazards result: per hazard, each configuration
// tried, what a client saw, and the one-line fix.
func writeHazards(w io.Writer, r *bench.Result) {
	if r.Hazards == nil {
		return
	}
	for _, h := range r.Hazards.Hazards {
		fmt.Fprintf(w, "### %s\n\n", h.Title)
		if h.Skipped != "" {
			fmt.Fprintf(w, "Not run: %s.\n\n", h.Skipped)
			continue
		}
		fmt.Fprintf(w, "| configuration | hazard? | what a client saw |\n|---|---|---|\n")
		for _, c := range h.Cases {
			mark := "fine"
			switch {
			case c.Broken && c.Symptom:
				mark = "**broken**"
			case c.Broken:
				mark = "broken config, symptom not seen"
			case c.Symptom:
				mark = "**symptom without the hazard**"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", mdCell(c.Name), mark, mdCell(c.Verdict))
		}
		fmt.Fprintf(w, "\n**Fix**: %s.\n\n", h.Fix)
	}
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Fact is one line of the deployment facts: a question teams ask, the
// measured answer (broken and fixed where it is a hazard), the fix, and
// the result file it comes from.
type Fact struct {
	Topic  string `json:"topic"`
	Broken string `json:"broken,omitempty"` // what a user sees with the hazard
	Fixed  string `json:"fixed,omitempty"`  // with the fix
	Fix    string `json:"fix,omitempty"`
	Source string `json:"source"` // results/<file>.json
}

// Facts are the deployment facts of a results directory: the latest
// hazards result (and the latest HTTP/2 and compression measurements
// when present), as the demo page shows them.
type Facts struct {
	Facts []Fact `json:"facts"`
}

// FactsFile is the file, in a results directory, that holds its Facts;
// the demo page embeds a copy (cmd/demo/internal/web/static).
const FactsFile = "deployment-facts.json"

// DeploymentFacts gathers the facts of dir from its latest results.
func DeploymentFacts(dir string) (Facts, error) {
	var f Facts
	latest, err := latestResults(dir)
	if err != nil {
		return f, err
	}
	if p, ok := latest[bench.ScenarioHazards]; ok {
		r, err := bench.ReadResult(p)
		if err != nil {
			return f, err
		}
		src := sourceName(dir, p)
		for _, h := range r.Hazards.Hazards {
			if h.Skipped != "" {
				continue
			}
			fact := Fact{Topic: h.Title, Fix: h.Fix, Source: src}
			var broken, fixed []string
			for _, c := range h.Cases {
				line := c.Name + ": " + c.Verdict
				if c.Broken {
					broken = append(broken, line)
				} else {
					fixed = append(fixed, line)
				}
			}
			fact.Broken, fact.Fixed = strings.Join(broken, "; "), strings.Join(fixed, "; ")
			f.Facts = append(f.Facts, fact)
		}
	}
	for _, kind := range []string{factHTTP2, factCompression} {
		p, ok := latest[kind]
		if !ok {
			continue
		}
		r, err := bench.ReadResult(p)
		if err != nil {
			return f, err
		}
		f.Facts = append(f.Facts, measuredFacts(kind, r, sourceName(dir, p))...)
	}
	return f, nil
}

// Kinds of measurement results besides scenarios (latestResults).
const (
	factHTTP2       = "http2"       // a fanout with an SSE-over-HTTP/2 column
	factCompression = "compression" // the compression scenario
)

// latestResults maps each kind of deployment result to the newest file of
// dir holding one (file names sort by date).
func latestResults(dir string) (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	out := map[string]string{}
	for _, p := range paths {
		if filepath.Base(p) == FactsFile {
			continue
		}
		r, err := bench.ReadResult(p)
		if err != nil {
			continue // not a result
		}
		switch {
		case r.Scenario == bench.ScenarioHazards:
			out[bench.ScenarioHazards] = p
		case r.Scenario == factCompression:
			out[factCompression] = p
		case r.Transports[bench.SSEH2] != nil:
			out[factHTTP2] = p
		}
	}
	return out, nil
}

// sourceName is p as the repository names it (results/<file>), when dir
// is a results directory.
func sourceName(dir, p string) string {
	return filepath.ToSlash(filepath.Join(filepath.Base(filepath.Clean(dir)), filepath.Base(p)))
}

// WriteDeploymentFacts writes dir's FactsFile and returns its path (none
// when dir holds no deployment results).
func WriteDeploymentFacts(dir string) (string, error) {
	f, err := DeploymentFacts(dir)
	if err != nil || len(f.Facts) == 0 {
		return "", err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FactsFile)
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeFacts renders the "Deployment facts" section of the comparison
// report.
func writeFacts(w io.Writer, f Facts) {
	if len(f.Facts) == 0 {
		return
	}
	fmt.Fprintf(w, "## Deployment facts\n\n")
	fmt.Fprintf(w, "What decides WebSocket vs SSE in production besides latency, each measured through the real thing (nginx, a gzip middleware, headless Chromium, HTTP/2, compression) by `loadgen hazards` and the HTTP/2 and compression runs.\n\n")
	fmt.Fprintf(w, "| question | with the hazard | measured otherwise | fix | source |\n|---|---|---|---|---|\n")
	for _, x := range f.Facts {
		fmt.Fprintf(w, "| %s | %s | %s | %s | [%s](%s) |\n", mdCell(x.Topic), mdCell(orDash(x.Broken)), mdCell(orDash(x.Fixed)),
			mdCell(orDash(x.Fix)), filepath.Base(x.Source), filepath.Base(x.Source))
	}
	fmt.Fprintln(w)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// summaryHazards is the terminal summary of a hazards result.
func summaryHazards(w io.Writer, r *bench.Result) {
	fmt.Fprintf(w, "\nhazards\n")
	for _, h := range r.Hazards.Hazards {
		fmt.Fprintf(w, "  %s\n", h.Title)
		if h.Skipped != "" {
			fmt.Fprintf(w, "    not run: %s\n", h.Skipped)
			continue
		}
		for _, c := range h.Cases {
			mark := "  "
			if c.Symptom {
				mark = "✗ "
			}
			fmt.Fprintf(w, "    %s%s: %s\n", mark, c.Name, c.Verdict)
		}
		fmt.Fprintf(w, "    fix: %s\n", h.Fix)
	}
}

// measuredFacts are the facts of an HTTP/2 or compression measurement.
func measuredFacts(kind string, r *bench.Result, src string) []Fact {
	return nil
}
