// Package tasks runs the demo's simulated file-processing tasks and publishes
// their progress, in this process ([Runner], state in a [MemStore]) or
// across processes on Redis ([Queue], an asynq job queue, state in a
// [RedisStore]); the demo server uses either as an [Executor].
//
// A task processes Files "files", one every StepMS milliseconds, and fails at
// file FailAt when that is set. The [Runner] executes tasks in a bounded
// worker pool fed by a bounded queue, keeps their state in a [Store] and
// publishes every state change to the topic task:<id> through a
// transports.Publisher — it does not know which transports, if any, deliver
// the events.
//
// # Events
//
// Every event's data is the task's full state (the JSON form of [Task]), so
// the latest event alone is a complete snapshot:
//
//	seq 1        "queued"     status queued, progress 0
//	seq 2..N+1   "progress"   one per file, published when the file starts:
//	                          status running, progress (i-1)*100/N, message "processing i/N"
//	seq N+2      "completed"  status completed, progress 100, result
//	   or        "failed"     status failed, error (after file FailAt, or on shutdown)
//
// A task therefore publishes exactly Files+2 events when it completes and
// FailAt+2 when it fails at FailAt.
//
// Under a Queue a task may run in several attempts (its worker died, or
// handed it back when shutting down): each continues from the last file the
// store recorded, so the events above still come in order, progress never
// goes back, and a file may be announced twice; Task.Attempts counts the
// runs. See [Queue] for how a dead worker's task is retried or failed.
//
// # Shutdown
//
// [Runner.Shutdown] refuses new tasks and ends every queued and running task
// as failed with the error "server shutting down", publishing that terminal
// event, so no task is left running forever. It returns only once the
// workers (the runner's only goroutines) have stopped. Call it before
// closing the hub.
package tasks
