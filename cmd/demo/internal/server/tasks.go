package server

import "github.com/twinstream/twinstream/cmd/demo/internal/tasks"

// initTasks builds the task executor and store: in this process, in memory
// (tasks.Runner, tasks.MemStore).
func (s *Server) initTasks() error {
	s.store = tasks.NewMemStore(0)
	s.runner = tasks.NewRunner(tasks.RunnerConfig{
		Publisher: s.hub, Store: s.store, Workers: s.cfg.Workers, QueueSize: s.cfg.TaskQueue,
		Logger: s.cfg.Logger.With("component", "tasks"),
	})
	return nil
}
