package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"quill/config"
)

// ctlCmd talks to the runtime API of the quill running with the config
// file: `servers` lists, `set POOL SERVER state=… weight=…` changes one.
// Changes last until the next reload.
func ctlCmd(args []string, out io.Writer) error {
	path, rest, err := configArgs("ctl", args, "servers", "set")
	if err != nil {
		return err
	}
	// ctl needs the admin address and token only: a certificate or log
	// problem of the file is no reason to refuse to talk to the proxy.
	cfg, err := config.Load(path)
	if err != nil {
		printErrors(os.Stderr, err)
		return errReported
	}
	call := func(method, path string) ([]byte, error) {
		b, err := callAdmin(cfg, method, path, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("ctl: %w", err)
		}
		return b, nil
	}
	switch {
	case len(rest) == 1 && rest[0] == "servers":
		b, err := call(http.MethodGet, "/api/servers")
		if err != nil {
			return err
		}
		var servers []map[string]any
		if err := json.Unmarshal(b, &servers); err != nil {
			return fmt.Errorf("ctl: %w", err)
		}
		tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "POOL\tSERVER\tNAME\tSTATE\tWEIGHT\tACTIVE\tREQUESTS\tFAILURES")
		for _, s := range servers {
			fmt.Fprintf(tw, "%v\t%v\t%v\t%v\t%v\t%v\t%v\t%v\n", s["pool"], s["address"], s["name"], s["state"], s["weight"], s["active"], s["requests"], s["failures"])
		}
		return tw.Flush()
	case len(rest) >= 4 && rest[0] == "set":
		q := url.Values{}
		for _, kv := range rest[3:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || (k != "state" && k != "weight") {
				return fmt.Errorf("ctl: %q is not state=ready|drain|maint or weight=N", kv)
			}
			q.Set(k, v)
		}
		b, err := call(http.MethodPost, "/api/servers/"+url.PathEscape(rest[1])+"/"+url.PathEscape(rest[2])+"?"+q.Encode())
		if err != nil {
			return err
		}
		out.Write(b)
		return nil
	}
	return &usageError{"ctl", fmt.Sprintf("%q is not servers or set POOL SERVER state=ready|drain|maint weight=N", strings.Join(rest, " "))}
}
