package proxyproto

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
)

// Read reads the header that opens c and nothing after it, so that the
// client's bytes stay in the socket for whoever serves c next, which may
// read the socket directly. It peeks at what has arrived, takes from the
// socket the bytes that belong to the header, and waits for more while
// the header is incomplete. The caller bounds the wait with a read
// deadline on c.
//
// c must be a socket (implement syscall.Conn). Read returns io.EOF when
// the peer closed before sending a byte, and an error wrapping ErrInvalid
// when what it sent is not a header.
func Read(c net.Conn) (Header, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return Header{}, fmt.Errorf("proxyproto: %T is not a socket", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return Header{}, fmt.Errorf("proxyproto: %w", err)
	}
	// buf holds the header's bytes taken so far, then what is peeked
	// after them; it grows only for v2 headers longer than its start.
	buf := make([]byte, 0, 256)
	for {
		if cap(buf)-len(buf) < 64 {
			buf = slices.Grow(buf, min(cap(buf), MaxLength-len(buf)))
		}
		room := buf[len(buf):min(cap(buf), MaxLength)]
		n, err := peek(rc, room)
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return Header{}, err
		}
		h, size, err := Parse(buf[:len(buf)+n])
		switch {
		case err == nil:
			// The header ends within what was peeked: take exactly its rest.
			if _, err := io.ReadFull(c, room[:size-len(buf)]); err != nil {
				return Header{}, err
			}
			return h, nil
		case !errors.Is(err, ErrIncomplete):
			return Header{}, err
		}
		// All of it belongs to the header: take it, and wait for more.
		if _, err := io.ReadFull(c, room[:n]); err != nil {
			return Header{}, err
		}
		buf = buf[:len(buf)+n]
	}
}
