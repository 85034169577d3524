package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// A row of the report: an attack (a probe, and a case of it), and how one
// of its result lines reads in a cell.
type row struct {
	probe, caseName, title string
	cell                   func(kv map[string]string) string
}

func reportRows() []row {
	rows := []row{
		{"body-timeout", "", "POST, `Content-Length: 100`, no body (waited up to 130 s)", bodyTimeoutCell},
		{"send-timeout", "", "20 pipelined GETs of 1 MiB, nothing read (watched up to 200 s)", sendTimeoutCell},
		{"slow-post", "", "500 slow POSTs (10 MB announced, a byte every 2 s, 60 s): requests held at the backend at once; RSS growth", slowPostCell},
		{"slow-readers", "", "500 readers of 1 MiB reading nothing, 60 s: a keep-alive client's p50 / p99 / max; RSS growth", slowReadersCell},
		{"bad-chunk", "17-hex-digits", "chunk size of 17 hex digits", badChunkCell},
		{"bad-chunk", "bare-lf", "chunk-size line ended by a bare LF", badChunkCell},
		{"many-fields", "", "10,000 header fields `a: b`", manyFieldsCell},
		{"oversized-head", "", "head growing past 64 KiB, sent whole before reading", oversizedCell},
		{"backend-dies", "", "backend sends 1,000 of 100,000 bytes and closes: client; access log", backendDiesCell},
		{"h2-rapid-reset", "", "HTTP/2 rapid reset, 10,000 streams opened and reset on one connection", rapidResetCell},
	}
	for _, p := range pathTargets {
		rows = append(rows, row{"paths", p, fmt.Sprintf("`GET %s` (`/static/` route and a catch-all)", p), pathCell})
	}
	return rows
}

func num(kv map[string]string, k string) string {
	if v, ok := kv[k]; ok {
		return v
	}
	return "?"
}

func bodyTimeoutCell(kv map[string]string) string {
	var s string
	switch {
	case kv["status"] != "none" && kv["status"] != "":
		s = fmt.Sprintf("%s at %s s", kv["status"], num(kv, "after"))
	case kv["end"] == "timeout":
		s = fmt.Sprintf("nothing in %s s", num(kv, "after"))
	default:
		s = fmt.Sprintf("%s at %s s", kv["end"], num(kv, "after"))
	}
	switch {
	case kv["backend_requests"] == "0":
		s += "; nothing reached the backend"
	case kv["backend_done"] == "true":
		s += fmt.Sprintf("; backend request released after %s s", num(kv, "backend_held"))
	default:
		s += fmt.Sprintf("; backend request still held (%s s)", num(kv, "backend_held"))
	}
	return s
}

func sendTimeoutCell(kv map[string]string) string {
	if kv["closed"] == "yes" {
		return fmt.Sprintf("closed at %s s", num(kv, "after"))
	}
	return fmt.Sprintf("still open at %s s", num(kv, "after"))
}

func slowPostCell(kv map[string]string) string {
	return fmt.Sprintf("%s held; RSS +%s MB", num(kv, "backend_peak_inflight"), num(kv, "rss_growth_mb"))
}

func slowReadersCell(kv map[string]string) string {
	return fmt.Sprintf("%s / %s / %s ms; RSS +%s MB", num(kv, "p50_ms"), num(kv, "p99_ms"), num(kv, "max_ms"), num(kv, "rss_growth_mb"))
}

func reached(kv map[string]string) string {
	if kv["backend_requests"] == "0" {
		return "nothing forwarded"
	}
	return fmt.Sprintf("head and %s body bytes forwarded", num(kv, "backend_body"))
}

func badChunkCell(kv map[string]string) string {
	return statusOf(kv) + "; " + reached(kv)
}

func statusOf(kv map[string]string) string {
	if kv["status"] == "none" {
		return "no answer (" + kv["end"] + ")"
	}
	return kv["status"]
}

func manyFieldsCell(kv map[string]string) string {
	if kv["backend_requests"] == "0" {
		return statusOf(kv) + "; not forwarded"
	}
	return fmt.Sprintf("%s; forwarded (%s fields)", statusOf(kv), num(kv, "fields_seen"))
}

func oversizedCell(kv map[string]string) string {
	if kv["status"] == "none" {
		return fmt.Sprintf("no answer read (%s; sending: %s)", kv["end"], kv["write"])
	}
	if kv["end"] == "complete" {
		return kv["status"] + " read whole"
	}
	return fmt.Sprintf("%s, then %s", kv["status"], kv["end"])
}

var clfTail = regexp.MustCompile(`"[A-Z]+ /die[^"]*" (\S+) (\S+)`)

func backendDiesCell(kv map[string]string) string {
	var s string
	if kv["status"] == "none" {
		s = "nothing (" + kv["end"] + ")"
	} else {
		s = fmt.Sprintf("%s + %s bytes, then %s", kv["status"], num(kv, "body"), kv["end"])
	}
	if m := clfTail.FindStringSubmatch(kv["log"]); m != nil {
		s += fmt.Sprintf("; log `%s %s`", m[1], m[2])
	} else if _, ok := kv["log"]; ok {
		s += "; no log line"
	}
	return s
}

func rapidResetCell(kv map[string]string) string {
	var s string
	if kv["goaway"] == "yes" {
		s = "GOAWAY"
		if last, err := strconv.Atoi(kv["goaway_last_stream"]); err == nil {
			// Client streams are the odd IDs: stream N is the (N+1)/2th.
			s += fmt.Sprintf(" after %d streams", (last+1)/2)
		}
	} else {
		s = fmt.Sprintf("no GOAWAY (%s sent)", num(kv, "streams_sent"))
	}
	return s + fmt.Sprintf("; the backend got %s", num(kv, "backend_requests"))
}

func pathCell(kv map[string]string) string {
	if kv["backend_requests"] == "0" {
		return statusOf(kv)
	}
	return fmt.Sprintf("%s, `%s` pool sees `%s`", statusOf(kv), kv["backend"], kv["seen"])
}

var displayName = map[string]string{"quill": "quill", "haproxy": "HAProxy", "nginx": "nginx"}

// printReport writes the markdown table of the result lines in file.
func printReport(w io.Writer, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var targets []string
	got := make(map[string]map[string]string) // probe|case|target → line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		kv := parseKV(sc.Text())
		if kv["probe"] == "" || kv["target"] == "" {
			continue
		}
		t := kv["target"]
		known := false
		for _, x := range targets {
			known = known || x == t
		}
		if !known {
			targets = append(targets, t)
		}
		got[kv["probe"]+"|"+kv["case"]+"|"+t] = kv
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprint(w, "| attack |")
	for _, t := range targets {
		name := displayName[t]
		if name == "" {
			name = t
		}
		fmt.Fprintf(w, " %s |", name)
	}
	fmt.Fprint(w, "\n| --- |")
	for range targets {
		fmt.Fprint(w, " --- |")
	}
	fmt.Fprintln(w)
	for _, r := range reportRows() {
		fmt.Fprintf(w, "| %s |", r.title)
		for _, t := range targets {
			kv, ok := got[r.probe+"|"+r.caseName+"|"+t]
			cell := "not run"
			switch {
			case ok && kv["error"] != "":
				cell = "error: " + kv["error"]
			case ok:
				cell = r.cell(kv)
			}
			fmt.Fprintf(w, " %s |", strings.ReplaceAll(cell, "|", `\|`))
		}
		fmt.Fprintln(w)
	}
	return nil
}
