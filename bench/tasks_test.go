package bench

import (
	"testing"
	"time"
)

func TestJudgeTasks(t *testing.T) {
	posted := time.Unix(1000, 0)
	at := posted.Add(50 * time.Millisecond).UnixNano()
	done := []byte(`{"id":"t1","status":"completed","progress":100}`)
	failed := []byte(`{"id":"t1","status":"failed","error":"file 3/10 failed"}`)
	running := []byte(`{"id":"t1","status":"running","progress":40}`)
	ev := func(kind string, seq uint64, data []byte, ended bool) Final {
		f := Final{Kind: kind, Seq: seq, Data: dataDigest(data), AtNS: at, Ended: ended}
		if kind == "snapshot" {
			f.Status = dataStatus(data)
		}
		return f
	}
	tests := []struct {
		name   string
		finals []Final
		status string // GET /api/tasks/:id
		want   TasksResult
	}{
		{"every watcher saw the terminal event", []Final{ev("completed", 12, done, true), ev("completed", 12, done, true)}, "completed",
			TasksResult{Completed: 2, Consistent: true}},
		{"late watcher: snapshot of the finished task", []Final{ev("completed", 12, done, true), ev("snapshot", 12, done, true)}, "completed",
			TasksResult{Completed: 2, Consistent: true}},
		{"only late watchers, failed task", []Final{ev("snapshot", 7, failed, true), ev("snapshot", 7, failed, true)}, "failed",
			TasksResult{Failed: 2, Consistent: true}},
		{"late watcher first, then the event", []Final{ev("snapshot", 7, failed, true), ev("failed", 7, failed, true)}, "failed",
			TasksResult{Failed: 2, Consistent: true}},
		{"snapshot of a running task, stream ended", []Final{ev("completed", 12, done, true), ev("snapshot", 5, running, true)}, "completed",
			TasksResult{Completed: 1, Unfinished: 1}},
		{"stream ended with no event", []Final{ev("completed", 12, done, true), {Ended: true}}, "completed",
			TasksResult{Completed: 1, Unfinished: 1}},
		{"stopped at progress", []Final{ev("progress", 11, running, false), ev("completed", 12, done, true)}, "completed",
			TasksResult{Completed: 1, Unfinished: 1}},
		{"snapshot seq differs", []Final{ev("completed", 12, done, true), ev("snapshot", 11, done, true)}, "completed",
			TasksResult{Completed: 2, Mismatches: 1}},
		{"snapshot data differs", []Final{ev("completed", 12, done, true), {Kind: "snapshot", Seq: 12, Status: "completed", Data: "other", AtNS: at, Ended: true}}, "completed",
			TasksResult{Completed: 2, Mismatches: 1}},
		{"snapshot says failed, event says completed", []Final{ev("completed", 12, done, true), ev("snapshot", 12, failed, true)}, "completed",
			TasksResult{Completed: 1, Failed: 1, Mismatches: 2}}, // vs the status and vs the other watcher
		{"server's status disagrees", []Final{ev("snapshot", 12, done, true)}, "failed",
			TasksResult{Completed: 1, Mismatches: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.finals {
				tc.finals[i].Stream = 0
			}
			res := []*WorkerResult{{Finals: tc.finals}}
			got := judgeTasks(res, []createdTask{{id: "t1", posted: posted}}, []string{tc.status}, len(tc.finals))
			w := tc.want
			if got.Completed != w.Completed || got.Failed != w.Failed || got.Unfinished != w.Unfinished ||
				got.Mismatches != w.Mismatches || got.Consistent != w.Consistent {
				t.Errorf("got completed %d failed %d unfinished %d mismatches %d consistent %v; want %+v",
					got.Completed, got.Failed, got.Unfinished, got.Mismatches, got.Consistent, w)
			}
			if n := got.Completed + got.Failed; got.EndToEndMS.Count != int64(n) || n > 0 && got.EndToEndMS.P50 < 49 {
				t.Errorf("end to end %+v for %d terminal watchers (50 ms each)", got.EndToEndMS, n)
			}
		})
	}
}
