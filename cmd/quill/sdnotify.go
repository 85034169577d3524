package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify sends state to the service manager on $NOTIFY_SOCKET, as
// sd_notify(3) does; without the variable (not run by systemd, or a unit
// of another Type) it does nothing. An address starting with "@" is in
// the abstract namespace, which Go's unix addresses understand as is.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify socket %s: %w", path, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify socket %s: %w", path, err)
	}
	return nil
}

// notifyServing tells systemd that this process serves and is the
// service's main process: after a binary upgrade the new process says so
// before the old one exits, so that a Type=notify unit (NotifyAccess=all)
// follows it instead of taking the old one's exit for the service's end.
func notifyServing() error {
	return sdNotify(fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid()))
}
