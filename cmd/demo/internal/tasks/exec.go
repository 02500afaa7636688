package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// errStopped: the context of a run ended before the task did; nothing
// terminal was stored or published (the caller decides what follows).
var errStopped = errors.New("tasks: run stopped")

// steps runs tasks, for the Runner and the Queue alike: it advances a task
// file by file, storing then publishing every state, and counts how tasks
// ended. Its methods are safe for concurrent use (each task has one writer).
type steps struct {
	pub   transports.Publisher
	store Store
	log   *slog.Logger

	running   atomic.Int64
	completed atomic.Uint64
	failed    atomic.Uint64
}

// run processes t from file t.Done+1 to its end and stores and publishes
// its terminal state with fin (which outlives ctx, so an end is recorded
// even while shutting down). It returns the last state and:
//   - nil when the task ended (completed, or failed at FailAt);
//   - errStopped when ctx ended first;
//   - ErrFinished when the store says the task already ended (another
//     process finished it, or it was marked failed): the run gives up at
//     once and publishes nothing more.
func (x *steps) run(ctx, fin context.Context, t Task) (Task, error) {
	x.running.Add(1)
	defer x.running.Add(-1)
	started := time.Now()
	step := time.Duration(t.StepMS) * time.Millisecond
	var timer *time.Timer
	if step > 0 {
		timer = time.NewTimer(step)
		defer timer.Stop()
	}
	first := t.Done + 1
	for i := first; i <= t.Files; i++ {
		if ctx.Err() != nil {
			return t, errStopped
		}
		t.Status = StatusRunning
		t.Progress = (i - 1) * 100 / t.Files
		t.Done = i - 1
		t.Message = fmt.Sprintf("processing %d/%d", i, t.Files)
		if err := x.update(ctx, &t, taskstream.KindProgress); err != nil {
			return t, err
		}
		if timer != nil {
			if i > first {
				timer.Reset(step)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				return t, errStopped
			}
		}
		if i == t.FailAt {
			return x.finish(fin, t, StatusFailed, fmt.Sprintf("file %d/%d failed", i, t.Files), started)
		}
	}
	t.Done = t.Files
	return x.finish(fin, t, StatusCompleted, "", started)
}

// finish stores and publishes a terminal state. ElapsedMS of a completed
// task counts from started (the start of the run that completed it).
func (x *steps) finish(ctx context.Context, t Task, st Status, errMsg string, started time.Time) (Task, error) {
	t.Status = st
	kind := taskstream.KindFailed
	switch st {
	case StatusCompleted:
		kind = taskstream.KindCompleted
		t.Progress = 100
		t.Message = fmt.Sprintf("completed %d files", t.Files)
		t.Result = &Result{Processed: t.Done, ElapsedMS: time.Since(started).Milliseconds()}
	default:
		t.Error = errMsg
		t.Message = "failed: " + errMsg
	}
	if err := x.update(ctx, &t, kind); err != nil {
		return t, err
	}
	if st == StatusCompleted {
		x.completed.Add(1)
	} else {
		x.failed.Add(1)
	}
	x.log.Debug("task finished", "id", t.ID, "status", st, "error", t.Error)
	return t, nil
}

// update stamps, stores and publishes t. A store that fails otherwise
// (Redis unreachable) is logged and the event still published: every event
// carries the full state, so the next one that lands repairs the store. It
// fails only with ErrFinished, publishing nothing.
func (x *steps) update(ctx context.Context, t *Task, kind string) error {
	t.UpdatedAt = time.Now().UTC()
	if err := x.store.Put(ctx, *t); errors.Is(err, ErrFinished) {
		x.log.Debug("task ended elsewhere", "id", t.ID, "event", kind)
		return err
	} else if err != nil {
		x.log.Warn("task state not stored", "id", t.ID, "err", err)
	}
	x.publish(ctx, *t, kind)
	return nil
}

func (x *steps) publish(ctx context.Context, t Task, kind string) {
	if _, err := x.pub.Publish(ctx, t.Topic(), kind, t.JSON()); err != nil {
		x.log.Warn("task event not published", "id", t.ID, "event", kind, "err", err)
	}
}
