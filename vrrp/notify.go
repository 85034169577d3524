package vrrp

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// notifyTimeout bounds one run of the notify command.
const notifyTimeout = 30 * time.Second

// notifier runs the notify command once per change of state, in order,
// one at a time, without holding up the state machine.
type notifier struct {
	argv []string
	name string
	log  *zap.Logger
	jobs chan []string
	done chan struct{}
}

func newNotifier(command, instance string, log *zap.Logger) *notifier {
	n := &notifier{argv: strings.Fields(command), name: instance, log: log, jobs: make(chan []string, 32), done: make(chan struct{})}
	go n.loop()
	return n
}

// notify queues a run with keepalived's arguments: INSTANCE NAME STATE PRIORITY.
func (n *notifier) notify(state string, priority uint8) {
	if len(n.argv) == 0 {
		return
	}
	args := []string{"INSTANCE", n.name, state, strconv.Itoa(int(priority))}
	select {
	case n.jobs <- args:
	default:
		n.log.Error("notify: too many runs waiting; this one is dropped", zap.String("state", state))
	}
}

// close waits, at most wait, for the queued runs to finish.
func (n *notifier) close(wait time.Duration) {
	close(n.jobs)
	select {
	case <-n.done:
	case <-time.After(wait):
		n.log.Warn("notify: still running at exit")
	}
}

func (n *notifier) loop() {
	defer close(n.done)
	for args := range n.jobs {
		if len(n.argv) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		cmd := exec.CommandContext(ctx, n.argv[0], append(n.argv[1:], args...)...)
		cmd.Env = append(os.Environ(), "QUILL_VRRP_INSTANCE="+args[1], "QUILL_VRRP_STATE="+args[2], "QUILL_VRRP_PRIORITY="+args[3])
		start := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			n.log.Error("notify command failed", zap.Strings("command", cmd.Args), zap.Error(err), zap.ByteString("output", out))
			continue
		}
		n.log.Info("notify command ran", zap.Strings("command", cmd.Args), zap.Duration("took", time.Since(start)))
	}
}
