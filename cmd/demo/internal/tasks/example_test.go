package tasks_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// A Runner publishes each task's full state to task:<id> on a hub; here a
// hub subscriber replays the task's topic from the start and prints it.
func Example() {
	hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	defer hub.Close()
	runner := tasks.NewRunner(tasks.RunnerConfig{Publisher: hub})
	defer runner.Shutdown(context.Background())

	task, err := runner.Submit(context.Background(), tasks.Spec{Files: 3, StepMS: 1, FailAt: 0})
	if err != nil {
		panic(err)
	}
	topic := tasks.Topic(task.ID)
	sub, _, err := hub.Attach("example", transports.Stream{
		Topics: []string{topic}, Single: topic,
		Cursors:       transports.Cursors{topic: 0}, // replay from the start
		EndOnTerminal: true,
	})
	if err != nil {
		panic(err)
	}
	defer sub.Close(nil)
	for {
		<-sub.Ready()
		for _, it := range sub.Drain(nil) {
			var st tasks.Task
			_ = json.Unmarshal(it.Event.Data, &st)
			fmt.Printf("%d %-9s %-9s %3d%% %s\n", it.Event.Seq, it.Event.Kind, st.Status, st.Progress, st.Message)
			if it.End {
				return
			}
		}
	}
	// Output:
	// 1 queued    queued      0% queued
	// 2 progress  running     0% processing 1/3
	// 3 progress  running    33% processing 2/3
	// 4 progress  running    66% processing 3/3
	// 5 completed completed 100% completed 3 files
}
