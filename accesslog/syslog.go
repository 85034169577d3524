package accesslog

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// syslogPriority is facility local0 (16) at severity info (6): local0 is
// free for sites to route access logs on their own (rsyslog:
// `local0.* /var/log/quill/access.log`), apart from the daemon messages
// that quill's own log sends.
const syslogPriority = 16*8 + 6

// syslogTag names quill in every message.
const syslogTag = "quill"

// syslogSink ships each line as one RFC 3164 datagram. Syslog is lossy by
// nature, so a failed send counts as a write error and the line is not
// kept; the next send dials again, which follows a restarted syslogd.
type syslogSink struct {
	target  string
	network string
	addr    string
	// hostname is sent to network collectors only: syslog(3) leaves it out
	// on /dev/log, where the local daemon adds its own.
	hostname string
	// prefix is " quill[pid]: ", the tag between header and line.
	prefix string
	conn   net.Conn
	msg    []byte
}

// newSyslog parses target ("udp://host:port", "unix:///dev/log" or
// "unixgram:///path") and dials it, so a wrong target fails at start.
func newSyslog(target string) (*syslogSink, error) {
	scheme, rest, ok := strings.Cut(target, "://")
	s := &syslogSink{target: target, prefix: " " + syslogTag + "[" + strconv.Itoa(os.Getpid()) + "]: "}
	switch {
	case ok && scheme == "udp":
		if _, _, err := net.SplitHostPort(rest); err != nil {
			return nil, fmt.Errorf("access log syslog %q: %w", target, err)
		}
		s.network, s.addr = "udp", rest
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "localhost"
		}
		// RFC 3164 wants the host name without its domain.
		host, _, _ = strings.Cut(host, ".")
		s.hostname = host
	case ok && (scheme == "unix" || scheme == "unixgram") && rest != "":
		// /dev/log is a datagram socket on Linux (rsyslog, journald).
		s.network, s.addr = "unixgram", rest
	default:
		return nil, fmt.Errorf("access log syslog %q: want udp://host:port, unix:///path or unixgram:///path", target)
	}
	if err := s.dial(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *syslogSink) dial() error {
	conn, err := net.Dial(s.network, s.addr)
	if err != nil {
		return fmt.Errorf("access log syslog %q: %w", s.target, err)
	}
	s.conn = conn
	return nil
}

// send ships one formatted line, its newline dropped, stamped with now.
func (s *syslogSink) send(line []byte, now time.Time) error {
	if s.conn == nil {
		if err := s.dial(); err != nil {
			return err
		}
	}
	s.msg = s.appendMessage(s.msg[:0], line, now)
	if _, err := s.conn.Write(s.msg); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("access log syslog %q: %w", s.target, err)
	}
	return nil
}

// appendMessage builds "<PRI>Mmm dd hh:mm:ss [HOSTNAME ]quill[pid]: line".
func (s *syslogSink) appendMessage(dst, line []byte, now time.Time) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, syslogPriority, 10)
	dst = append(dst, '>')
	dst = now.AppendFormat(dst, time.Stamp)
	if s.hostname != "" {
		dst = append(dst, ' ')
		dst = append(dst, s.hostname...)
	}
	dst = append(dst, s.prefix...)
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	return append(dst, line...)
}

func (s *syslogSink) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if err != nil {
		return fmt.Errorf("access log syslog %q: close: %w", s.target, err)
	}
	return nil
}
