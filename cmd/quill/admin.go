package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"quill/config"
)

// callAdmin sends a request to the admin API of the quill running with cfg
// and returns the body of a 200 answer.
func callAdmin(cfg *config.Config, method, path string, timeout time.Duration) ([]byte, error) {
	if cfg.Admin == nil {
		return nil, fmt.Errorf("%s has no [admin] listener", cfg.File)
	}
	req, err := http.NewRequest(method, "http://"+cfg.Admin.Listen+path, nil)
	if err != nil {
		return nil, err
	}
	if cfg.Admin.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}
