package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/web"
)

// The page's Deployment facts panel shows the committed figures: its
// embedded deployment-facts.json is results/deployment-facts.json (or,
// before any run was committed, an empty list, which the panel says).
func TestDeploymentFactsAreTheCommittedOnes(t *testing.T) {
	static, err := os.ReadFile("static/deployment-facts.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Facts []struct {
			Topic, Source string
		} `json:"facts"`
	}
	if err := json.Unmarshal(static, &f); err != nil {
		t.Fatalf("static/deployment-facts.json: %v", err)
	}
	committed, err := os.ReadFile("../../../../results/deployment-facts.json")
	switch {
	case os.IsNotExist(err):
		if len(f.Facts) != 0 {
			t.Fatal("the page shows facts that results/ does not hold")
		}
	case err != nil:
		t.Fatal(err)
	case !bytes.Equal(static, committed):
		t.Fatal("the page's deployment facts are not the committed ones: cp results/deployment-facts.json cmd/demo/internal/web/static/")
	}
	for _, x := range f.Facts {
		if x.Topic == "" || x.Source == "" {
			t.Errorf("fact without topic or source: %+v", x)
		}
		if _, err := os.Stat("../../../../" + x.Source); err != nil {
			t.Errorf("fact %q: its source %s is not in the repository", x.Topic, x.Source)
		}
	}

	rec := httptest.NewRecorder()
	web.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/deployment-facts.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /deployment-facts.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
