package transports_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/twinstream/twinstream/transports"
)

// A resolver names the topic of GET /tasks/{id}; ResolveSingle adds the
// rest, the same for both transports.
func ExampleResolveSingle() {
	resolve := func(r *http.Request) (transports.Stream, error) {
		return transports.Stream{Topics: []string{"task:" + r.PathValue("id")}}, nil
	}
	r := httptest.NewRequest(http.MethodGet, "/tasks/42?last_event_id=7", nil)
	r.SetPathValue("id", "42")
	s, err := transports.ResolveSingle(r, resolve)
	fmt.Println(s.Single, s.Cursors.Format(s.Single), s.Snapshot, s.EndOnTerminal, err)
	// Output: task:42 7 true true <nil>
}

func TestResolveSingle(t *testing.T) {
	t.Parallel()
	topic := func(s transports.Stream) transports.Resolver {
		return func(*http.Request) (transports.Stream, error) { return s, nil }
	}
	notFound := fmt.Errorf("no task: %w", transports.ReasonNotFound)
	for _, tc := range []struct {
		name          string
		resolve       transports.Resolver
		query, header string
		want          transports.Stream
		reason        *transports.CloseReason
		field         string // of the bad request's error frame
	}{
		{name: "live", resolve: topic(transports.Stream{Topics: []string{"task:1"}}),
			want: transports.Stream{Topics: []string{"task:1"}, Single: "task:1", Cursors: transports.Cursors{}, Snapshot: true, EndOnTerminal: true}},
		{name: "query cursor", resolve: topic(transports.Stream{Topics: []string{"task:1"}}), query: "last_event_id=5",
			want: transports.Stream{Topics: []string{"task:1"}, Single: "task:1", Cursors: transports.Cursors{"task:1": 5}, Snapshot: true, EndOnTerminal: true}},
		{name: "header wins", resolve: topic(transports.Stream{Topics: []string{"task:1"}}), query: "last_event_id=5", header: "9",
			want: transports.Stream{Topics: []string{"task:1"}, Single: "task:1", Cursors: transports.Cursors{"task:1": 9}, Snapshot: true, EndOnTerminal: true}},
		{name: "resolver's flags and cursors are not its own to set",
			resolve: topic(transports.Stream{Topics: []string{"task:1"}, Single: "other", Cursors: transports.Cursors{"task:1": 3}}),
			want:    transports.Stream{Topics: []string{"task:1"}, Single: "task:1", Cursors: transports.Cursors{}, Snapshot: true, EndOnTerminal: true}},
		{name: "bad cursor", resolve: topic(transports.Stream{Topics: []string{"task:1"}}), header: "x",
			reason: transports.ReasonBadRequest, field: "last_event_id"},
		{name: "not found", resolve: func(*http.Request) (transports.Stream, error) { return transports.Stream{}, notFound },
			header: "x", reason: transports.ReasonNotFound},
		{name: "two topics", resolve: topic(transports.Stream{Topics: []string{"a", "b"}}), reason: transports.ReasonInternal},
		{name: "client id", resolve: topic(transports.Stream{ClientID: "alice"}), reason: transports.ReasonInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/tasks/1?"+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Last-Event-ID", tc.header)
			}
			got, err := transports.ResolveSingle(r, tc.resolve)
			if tc.reason != nil {
				if transports.ReasonFor(err) != tc.reason {
					t.Fatalf("err %v: reason %v, want %v", err, transports.ReasonFor(err), tc.reason)
				}
				var f transports.ErrorFrame
				if tc.field != "" && (!errors.As(err, &f) || f.Fields[tc.field] == "") {
					t.Fatalf("err %v: no error frame naming %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Topics, tc.want.Topics) || got.Single != tc.want.Single || got.Snapshot != tc.want.Snapshot ||
				got.EndOnTerminal != tc.want.EndOnTerminal || got.ClientID != "" || fmt.Sprint(got.Cursors) != fmt.Sprint(tc.want.Cursors) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
