package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A backend that dies in the middle of its answer's body: curl gets the
// status, the head and the 100 bytes that came, then the connection
// closes short (curl: exit 18, partial file); the access log records 200
// and the 100 bytes sent, the process log why.
func TestHostileH1BackendDiesMidBody(t *testing.T) {
	e := startHostileEnv(t)
	for _, target := range []string{"/dies", "/dies-chunked"} {
		t.Run(target, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "curl", "-s", "-o", "-", "-w", "\n%{http_code}", "http://"+e.vip+target)
			out, err := cmd.Output()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 18 {
				t.Errorf("curl ended with %v, want exit 18 (partial file)", err)
			}
			body, code, _ := strings.Cut(string(out), "\n")
			if code != "200" || body != strings.Repeat("x", 100) {
				t.Errorf("curl got %s and %d body bytes, want 200 and the 100 that came", code, len(body))
			}
			if status, n := e.logged(t, target); status != 200 || n != 100 {
				t.Errorf("access log: %d %d, want 200 100", status, n)
			}
			e.processLog(t, "response broken off", target)
		})
	}
}

// A request body that stops coming for body_timeout is answered 408 and
// logged so; the server's connection is let go, and nothing is held
// against the server.
func TestHostileH1BodyTimeout(t *testing.T) {
	e := startHostileEnv(t)
	for _, target := range []string{"/held/slow", "/stream/slow", "/part/slow"} {
		t.Run(target, func(t *testing.T) {
			before := e.b.accepted.Load()
			c, br := e.dial(t)
			body := "abc"
			if strings.HasPrefix(target, "/part/") {
				body = strings.Repeat("a", 2000) // past the 1 KiB held
			}
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n%s", target, body)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("answer %v, %v; want 408", resp, err)
			}
			if closed, _, _ := waitClosed(c, br, time.Now().Add(5*time.Second)); !closed {
				t.Error("the connection stayed open after the 408")
			}
			if status, _ := e.logged(t, target); status != 408 {
				t.Errorf("access log: %d, want 408", status)
			}
			e.processLog(t, "request body timed out", target)
			reached := e.b.accepted.Load() > before
			if held := strings.HasPrefix(target, "/held/"); reached == held {
				t.Errorf("a server connection taken: %v, want %v", reached, !held)
			}
			if reached {
				eventually(t, 5*time.Second, func() bool {
					for _, b := range e.b.bodiesSeen() {
						if strings.HasPrefix(b, target+" ") && strings.HasSuffix(b, " broken") {
							return true
						}
					}
					return false
				})
			}
		})
	}
	e.checkNoFailures(t)
}

// A client that pipelines requests for 32 MiB answers and reads nothing
// is cut off after send_timeout; the access log has the status as sent
// and the bytes that went out.
func TestHostileH1SendTimeout(t *testing.T) {
	e := startHostileEnv(t)
	c, _ := e.dial(t)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(c, "GET /big?%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	status, n := e.logged(t, "/big?0")
	if status != 200 || n >= int64(len(bigAnswer)) {
		t.Errorf("access log: %d %d, want 200 and fewer than %d bytes", status, n, len(bigAnswer))
	}
	e.processLog(t, "client read nothing in send_timeout", "/big?0")
	// What the kernel's buffers held still comes, then the close.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, c)
	if err != nil && !isReset(err) {
		t.Errorf("after %d bytes: %v, want the connection closed", got, err)
	}
	if got >= int64(len(bigAnswer)) {
		t.Errorf("the client got %d bytes, more than one answer", got)
	}
	e.checkNoFailures(t)
}

// A server that goes quiet in its answer's body for the pool's timeout:
// the client has what came, then the close; logged with the bytes sent.
func TestHostileH1ResponseBodyTimeout(t *testing.T) {
	e := startHostileEnv(t)
	c, br := e.dial(t)
	io.WriteString(c, "GET /stalls HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != "0123456789" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("%d %q %v; want 200, the 10 bytes that came, then the close", resp.StatusCode, got, err)
	}
	if status, n := e.logged(t, "/stalls"); status != 200 || n != 10 {
		t.Errorf("access log: %d %d, want 200 10", status, n)
	}
	e.processLog(t, "response timed out", "/stalls")
}

// A body within buffer_request never reaches a server before it is whole;
// of a larger one the first buffer_request bytes are read first.
func TestHostileH1BufferRequest(t *testing.T) {
	e := startHostileEnv(t)
	tests := []struct {
		target    string
		length    int
		parts     []int
		connected []bool
	}{
		{"/held/small", 5, []int{1, 1, 1, 1, 1}, []bool{false, false, false, false, true}},
		{"/part/large", 5000, []int{500, 1000, 3500}, []bool{false, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			before := e.b.accepted.Load()
			c, br := e.dial(t)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", tt.target, tt.length)
			for i, n := range tt.parts {
				c.Write(bytes.Repeat([]byte("q"), n))
				if tt.connected[i] {
					eventually(t, 5*time.Second, func() bool { return e.b.accepted.Load() > before })
				} else {
					time.Sleep(300 * time.Millisecond)
					if e.b.accepted.Load() > before {
						t.Fatalf("a server connection was taken after part %d of the body", i+1)
					}
				}
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("answer %v, %v", resp, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != fmt.Sprint(tt.length) {
				t.Errorf("the server read %s body bytes, want %d", b, tt.length)
			}
		})
	}
}

// A malformed chunked request body is the client's error: 400, logged as
// 400, nothing forwarded when it is within the held part, the server's
// connection dropped when it came later, no failure of the server.
func TestHostileH1MalformedChunkedBody(t *testing.T) {
	e := startHostileEnv(t)
	chunk := "400\r\n" + strings.Repeat("c", 1024) + "\r\n"
	tests := []struct {
		target  string
		body    string
		reaches bool
	}{
		{"/held/hex17", "00000000000000001\r\nx\r\n0\r\n\r\n", false},
		{"/held/barelf", "5\nhello\r\n0\r\n\r\n", false},
		{"/part/hex17", chunk + chunk + "00000000000000001\r\nx\r\n0\r\n\r\n", true},
		{"/stream/barelf", chunk + "5\nhello\r\n0\r\n\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			before := e.b.accepted.Load()
			c, br := e.dial(t)
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s", tt.target, tt.body)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("answer %v, %v; want 400", resp, err)
			}
			if status, _ := e.logged(t, tt.target); status != 400 {
				t.Errorf("access log: %d, want 400", status)
			}
			if reached := e.b.accepted.Load() > before; reached != tt.reaches {
				t.Errorf("a server connection taken: %v, want %v", reached, tt.reaches)
			}
			for _, b := range e.b.bodiesSeen() {
				if strings.HasPrefix(b, tt.target+" ") && strings.HasSuffix(b, " ok") {
					t.Errorf("the server got a whole body: %s", b)
				}
			}
		})
	}
	e.checkNoFailures(t)
}

// A head too large, from a client that goes on sending it and reads only
// then: the whole 431 reaches it before the close, no reset destroys it.
func TestHostileH1HugeHeadGets431(t *testing.T) {
	e := startHostileEnv(t)
	c, br := e.dial(t)
	io.WriteString(c, "GET /huge HTTP/1.1\r\nHost: x\r\n")
	line := "X-Filler: " + strings.Repeat("f", 1000) + "\r\n"
	block := strings.Repeat(line, 16)
	for i := 0; i < 256; i++ { // 4 MiB of head
		if _, err := io.WriteString(c, block); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || err != nil {
		t.Errorf("%d %q %v; want the whole 431", resp.StatusCode, b, err)
	}
	if closed, reset, _ := waitClosed(c, br, time.Now().Add(15*time.Second)); !closed || reset {
		t.Errorf("closed %v, reset %v; want a close without a reset", closed, reset)
	}
}
