package h1

import (
	"net"
	"time"
)

// tunnelLinger is how long one direction of a tunnel may go on after the
// other ended before both are closed.
const tunnelLinger = 5 * time.Second

// tunnel relays a 101 Switching Protocols answer (its head is n bytes of
// bc's buffer) and then the bytes of both directions as they come, until
// both ends have closed. The connection serves no request after it.
func (x *Exchange) tunnel(bc *backendConn, n int, h Hooks) error {
	resp := &x.resp
	hw := getHead()
	x.statusLine(hw, resp.Status, resp.Reason)
	h.ResponseFields(x, resp, hw)
	hw.String("Connection", "upgrade")
	hw.Field(upgradeName, resp.Field("Upgrade"))
	hw.b = append(hw.b, '\r', '\n')
	bc.r += n
	hw.b = append(hw.b, bc.buf[bc.r:bc.w]...)
	bc.r = bc.w
	x.closeAfter = true
	x.body.done = true
	_, err := x.write(hw.b)
	putHead(hw)
	c := x.c
	if err != nil {
		bc.close()
		return nil
	}
	if c.r < c.w {
		if _, err := bc.nc.Write(c.buf[c.r:c.w]); err != nil {
			bc.close()
			return nil
		}
		c.r = c.w
	}
	c.nc.SetReadDeadline(time.Time{})
	toClient := make(chan int64, 1)
	go func() {
		n := pipe(c.nc, bc.nc, bc.buf[:cap(bc.buf)])
		toClient <- n
	}()
	up := getBuf(copyBuf)
	pipe(bc.nc, c.nc, up)
	putBuf(up)
	select {
	case n := <-toClient:
		x.BodyBytes += n
	case <-time.After(tunnelLinger):
		c.nc.Close()
		bc.nc.Close()
		x.BodyBytes += <-toClient
	}
	bc.close()
	return nil
}

// pipe copies src to dst until src ends, then half-closes dst so that its
// reader sees the end too. It returns the bytes copied.
func pipe(dst, src net.Conn, buf []byte) int64 {
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
			total += int64(n)
		}
		if err != nil {
			break
		}
	}
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := dst.(closeWriter); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
	return total
}
