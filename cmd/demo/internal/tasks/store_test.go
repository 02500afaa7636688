package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
)

func TestMemStoreGetPutList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := tasks.NewMemStore(0)
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

func TestMemStoreEvictsOldestFinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := tasks.NewMemStore(3)
	put := func(id string, st tasks.Status) {
		t.Helper()
		if err := s.Put(ctx, tasks.Task{ID: id, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	put("running", tasks.StatusRunning)
	for i := range 5 {
		put(fmt.Sprint("f", i), tasks.StatusQueued)
		put(fmt.Sprint("f", i), tasks.StatusCompleted)
		put(fmt.Sprint("f", i), tasks.StatusCompleted) // a second terminal Put is not a second finish
	}
	if n := s.Len(); n != 4 {
		t.Fatalf("Len = %d, want 4 (3 finished + 1 running)", n)
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
