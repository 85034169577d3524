#!/usr/bin/env bash
# Measures quill and HAProxy side by side under the two slow loads of
# slowload (500 slow POSTs, 500 slow readers of 1 MiB), each proxy started
# afresh for each load and warmed by a small run of the same load first.
# ROUNDS rounds, the proxies' order alternating; then the median of each
# figure per proxy and load. A single run decides little: under the slow
# readers the whole machine stalls now and then for a second or so (the
# backend, asked straight, is as slow then), which moves either proxy's
# p99 from about 1 ms to 10 or more. So a second normal client GETs from
# the backend straight meanwhile, as a control: its p99 (direct_p99_ms)
# rises with the proxied one when the stall, not the proxy, was the cause.
# Loopback only; about 1.5 minutes per round.
# Usage: [ROUNDS=1] [MODES="post read"] bench/hostile/slowload/compare.sh [QUILL_BINARY]
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
ROUNDS=${ROUNDS:-1}
for round in $(seq "$ROUNDS"); do
	order="quill haproxy"
	if ((round % 2 == 0)); then order="haproxy quill"; fi
	for mode in ${MODES:-post read}; do
		for proxy in $order; do
			if [ $proxy = quill ]; then
				"$quill" run -c "$work/quill.toml" 2>"$work/quill.log" &
				addr=$QUILL
			else
				/usr/sbin/haproxy -f "$work/haproxy.cfg" -db 2>"$work/haproxy.log" &
				addr=$HAPROXY
			fi
			pid=$!
			sleep 1
			line=$("$work/slowload" $mode -target $addr -direct "$BACKEND" -pid $pid -n "$N" -for "$FOR" -warm 50)
			printf 'round %d %-8s %s\n' "$round" $proxy "$line" | tee -a "$work/lines"
			kill $pid
			wait $pid 2>/dev/null || true
		done
	done
done
if ((ROUNDS > 1)); then
	echo "medians of $ROUNDS rounds:"
	for mode in ${MODES:-post read}; do
		for proxy in quill haproxy; do
			printf '%-8s mode=%s' $proxy "$mode"
			for key in anon_growth_kib p50_ms p99_ms max_ms direct_p99_ms; do
				grep " $proxy " "$work/lines" | grep "mode=$mode " | grep -o " $key=[0-9.]*" | cut -d= -f2 | sort -n |
					awk -v k=$key '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf " %s=%s", k, m}'
			done
			echo
		done
	done
fi
