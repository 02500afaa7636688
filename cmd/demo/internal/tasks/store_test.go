package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
)

// stores are the Store implementations every store test runs on; the
// Redis one gets a redis-server of its own.
var stores = []struct {
	name string
	new  func(t *testing.T, maxFinished int) tasks.Store
}{
	{"mem", func(_ *testing.T, n int) tasks.Store { return tasks.NewMemStore(n) }},
	{"redis", func(t *testing.T, n int) tasks.Store {
		return tasks.NewRedisStore(newRedis(t, startRedis(t)), tasks.RedisStoreConfig{MaxFinished: n})
	}},
}

func TestStoreGetPutList(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testGetPutList(t, st.new(t, 0))
		})
	}
}

func testGetPutList(t *testing.T, s tasks.Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, tasks.ErrNotFound) {
		t.Fatalf("Get unknown: %v, want ErrNotFound", err)
	}
	for i := range 5 {
		st := tasks.StatusQueued
		if i%2 == 1 {
			st = tasks.StatusRunning
		}
		if err := s.Put(ctx, tasks.Task{ID: fmt.Sprint("t", i), Status: st, Files: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing keeps the creation order.
	if err := s.Put(ctx, tasks.Task{ID: "t0", Status: tasks.StatusCompleted, Files: 1, Progress: 100}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Get(ctx, "t0")
	if got.Status != tasks.StatusCompleted || got.Progress != 100 {
		t.Fatalf("Get after replace = %+v", got)
	}
	tests := []struct {
		q    tasks.Query
		want string
	}{
		{tasks.Query{}, "[t4 t3 t2 t1 t0]"},
		{tasks.Query{Limit: 2}, "[t4 t3]"},
		{tasks.Query{Status: tasks.StatusRunning}, "[t3 t1]"},
		{tasks.Query{Status: tasks.StatusQueued, Limit: 1}, "[t4]"},
		{tasks.Query{Status: tasks.StatusCompleted}, "[t0]"},
		{tasks.Query{Status: tasks.StatusFailed}, "[]"},
	}
	for _, tt := range tests {
		list, err := s.List(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(list))
		for i, x := range list {
			ids[i] = x.ID
		}
		if fmt.Sprint(ids) != tt.want {
			t.Errorf("List(%+v) = %v, want %s", tt.q, ids, tt.want)
		}
	}
}

func TestStoreEvictsOldestFinished(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testEvicts(t, st.new(t, 3))
		})
	}
}

func testEvicts(t *testing.T, s tasks.Store) {
	ctx := context.Background()
	put := func(id string, st tasks.Status) {
		t.Helper()
		if err := s.Put(ctx, tasks.Task{ID: id, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	put("running", tasks.StatusRunning)
	for i := range 5 {
		id := fmt.Sprint("f", i)
		put(id, tasks.StatusQueued)
		put(id, tasks.StatusCompleted)
		// A task ends once: a second terminal Put, or a later running one,
		// is refused and changes nothing.
		for _, again := range []tasks.Status{tasks.StatusFailed, tasks.StatusRunning} {
			if err := s.Put(ctx, tasks.Task{ID: id, Status: again}); !errors.Is(err, tasks.ErrFinished) {
				t.Fatalf("Put(%s, %s) after completed = %v, want ErrFinished", id, again, err)
			}
		}
		if got, _ := s.Get(ctx, id); got.Status != tasks.StatusCompleted {
			t.Fatalf("Get(%s) = %s after refused Puts, want completed", id, got.Status)
		}
	}
	counts, err := s.(tasks.Counter).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[tasks.Status]int{tasks.StatusQueued: 0, tasks.StatusRunning: 1, tasks.StatusCompleted: 3, tasks.StatusFailed: 0}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("Count = %v, want %v (3 finished + 1 running)", counts, want)
	}
	for id, want := range map[string]bool{"running": true, "f0": false, "f1": false, "f2": true, "f3": true, "f4": true} {
		_, err := s.Get(ctx, id)
		if (err == nil) != want {
			t.Errorf("Get(%s) err=%v, want present=%v", id, err, want)
		}
	}
	list, _ := s.List(ctx, tasks.Query{Limit: tasks.MaxListLimit + 1})
	if len(list) != 4 {
		t.Fatalf("List = %d tasks, want 4", len(list))
	}
}
