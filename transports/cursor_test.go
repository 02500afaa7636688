package transports_test

import (
	"testing"

	"github.com/twinstream/twinstream/transports"
)

func TestParseCursors(t *testing.T) {
	tests := []struct {
		in, single string
		want       transports.Cursors
		bad        bool
	}{
		{"", "", transports.Cursors{}, false},
		{"17", "task:1", transports.Cursors{"task:1": 17}, false},
		{"0", "task:1", transports.Cursors{"task:1": 0}, false},
		{"17", "", nil, true},
		{"017", "t", nil, true},
		{"-1", "t", nil, true},
		{"1.5", "t", nil, true},
		{"99999999999999999999999", "t", nil, true},
		{"broadcast=3,news=17", "", transports.Cursors{"broadcast": 3, "news": 17}, false},
		{"task:1=4", "task:1", transports.Cursors{"task:1": 4}, false},
		{"task:2=4", "task:1", nil, true},
		{"a=1,a=2", "", nil, true},
		{"a=1,", "", nil, true},
		{"a b=1", "", nil, true},
		{"a=x", "", nil, true},
		{"=1", "", nil, true},
	}
	for _, tc := range tests {
		got, err := transports.ParseCursors(tc.in, tc.single)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseCursors(%q, %q) = %v, want error", tc.in, tc.single, got)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("ParseCursors(%q, %q) = %v, %v; want %v", tc.in, tc.single, got, err, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("ParseCursors(%q)[%s] = %d, want %d", tc.in, k, got[k], v)
			}
		}
	}
}

func TestCursorsFormatRoundTrip(t *testing.T) {
	c := transports.Cursors{"news": 17, "broadcast": 3, "client:alice": 0}
	s := c.Format("")
	if s != "broadcast=3,client:alice=0,news=17" {
		t.Fatalf("Format = %q", s)
	}
	back, err := transports.ParseCursors(s, "")
	if err != nil || back.Format("") != s {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if got := (transports.Cursors{"task:1": 9}).Format("task:1"); got != "9" {
		t.Fatalf("single = %q", got)
	}
}

func FuzzParseCursors(f *testing.F) {
	for _, s := range []string{"", "17", "a=1,b=2", "task:x=3", "a=1,a=1", "=", ",,", "0"} {
		f.Add(s, "")
		f.Add(s, "task:1")
	}
	f.Fuzz(func(t *testing.T, in, single string) {
		if single != "" && transports.ValidTopic(single) != nil {
			return
		}
		c, err := transports.ParseCursors(in, single)
		if err != nil {
			return
		}
		// Whatever parses must format and parse back to the same cursors.
		back, err := transports.ParseCursors(c.Format(single), single)
		if in != "" && err != nil {
			t.Fatalf("ParseCursors(%q) = %v, but its Format %q does not parse: %v", in, c, c.Format(single), err)
		}
		for k, v := range c {
			if back[k] != v {
				t.Fatalf("round trip of %q lost %s=%d", in, k, v)
			}
		}
	})
}
