package manual

import (
	"fmt"
	"strings"
)

// ReadmeMarker stands on the line before each TOML block of the README that
// is rendered from the reference: the first block gets the proxy's keys,
// the second the sidecar's.
const ReadmeMarker = "<!-- rendered from config/reference.toml by go generate ./internal/manual: edit that file -->"

// RenderReadme returns the README with its reference blocks rendered again.
func RenderReadme(readme string) (string, error) {
	proxy, vrrp := ReadmeBlocks()
	blocks := []string{proxy, vrrp}
	parts := strings.Split(readme, ReadmeMarker+"\n")
	if len(parts) != len(blocks)+1 {
		return "", fmt.Errorf("README: %d reference markers, want %d", len(parts)-1, len(blocks))
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for i, block := range blocks {
		rest, ok := strings.CutPrefix(parts[i+1], "```toml\n")
		if !ok {
			return "", fmt.Errorf("README: reference marker %d is not followed by a toml block", i+1)
		}
		end := strings.Index(rest, "\n```\n")
		if end < 0 {
			return "", fmt.Errorf("README: reference block %d does not end", i+1)
		}
		b.WriteString(ReadmeMarker + "\n```toml\n" + block + rest[end+1:])
	}
	return b.String(), nil
}
