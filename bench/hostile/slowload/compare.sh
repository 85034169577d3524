#!/usr/bin/env bash
# Measures quill and HAProxy side by side under the two slow loads of
# slowload (500 slow POSTs, 500 slow readers of 1 MiB), each proxy started
# afresh for each load and warmed by a small run of the same load first.
# Loopback only; about 3 minutes. Usage: [MODES="post read"] bench/hostile/slowload/compare.sh [QUILL_BINARY]
set -euo pipefail
cd "$(dirname "$0")/../../.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
quill=${1:-$work/quill}
[ -x "$quill" ] || go build -o "$quill" ./cmd/quill
go build -o "$work/slowload" ./bench/hostile/slowload
N=${N:-500} FOR=${FOR:-30s}
BACKEND=127.0.0.1:19100 QUILL=127.0.0.1:19180 HAPROXY=127.0.0.1:19190

cat > "$work/quill.toml" <<EOT
[global]
max_connections = 10000
[vips.p]
listen = ["$QUILL"]
  [[vips.p.routes]]
  pool = "app"
[pools.app]
servers = [{ address = "$BACKEND" }]
EOT
cat > "$work/haproxy.cfg" <<EOT
global
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
frontend f
  bind $HAPROXY
  default_backend b
backend b
  server s1 $BACKEND
EOT

"$work/slowload" backend -listen "$BACKEND" &
sleep 0.5
for mode in ${MODES:-post read}; do
	for proxy in quill haproxy; do
		if [ $proxy = quill ]; then
			"$quill" run -c "$work/quill.toml" 2>"$work/quill.log" &
			addr=$QUILL
		else
			/usr/sbin/haproxy -f "$work/haproxy.cfg" -db 2>"$work/haproxy.log" &
			addr=$HAPROXY
		fi
		pid=$!
		sleep 1
		printf '%-8s ' $proxy
		"$work/slowload" $mode -target $addr -pid $pid -n "$N" -for "$FOR" -warm 50
		kill $pid
		wait $pid 2>/dev/null || true
	done
done
