#!/usr/bin/env bash
# Side-by-side TLS termination benchmark: quill, HAProxy and nginx on
# loopback, terminating TLS with the same ECDSA P-256 certificate and
# proxying over plain HTTP/1.1 with keep-alive to the same backend
# (e2e/testbackend). For each it measures, one proxy at a time:
#
#   - full TLS handshakes per second (TLS 1.3 and TLS 1.2): a new
#     connection per request, no session resumption (./handshakes); for
#     TLS 1.3 once with X25519 only, which all three do, and once with the
#     client offering X25519MLKEM768 first as browsers and Go do, which
#     quill accepts and OpenSSL 3.0 (HAProxy, nginx) declines;
#   - HTTPS keep-alive requests per second: wrk -t2 -c64;
#   - for reference, the same over plain HTTP, which tells the cost of TLS
#     from the cost of proxying HTTP;
#
# and how much CPU the proxy itself spent per unit of work, since on a
# small machine the load generator and the backend share the cores.
#
#   bench/tls/run.sh                       # about two minutes
#   DURATION=5s bench/tls/run.sh           # each measurement's length
#   PROFILE=1 bench/tls/run.sh             # also perf-profile quill
#
# Wants go, openssl, haproxy, nginx (nginx-light will do), wrk, and perf
# for PROFILE=1. Every process it starts is killed by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"

DURATION=${DURATION:-8s}
CONNS=${CONNS:-32}         # handshake workers
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-64}
PROFILE=${PROFILE:-0}

for tool in go openssl haproxy nginx wrk; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
if [[ $PROFILE == 1 ]]; then
	command -v perf >/dev/null || { echo "perf is not installed (PROFILE=1)" >&2; exit 1; }
fi

. bench/lib.sh
bench_workdir quill-bench-tls

# cpu_ticks prints the user+system clock ticks used so far by a process
# and its children (nginx's workers).
cpu_ticks() {
	local total=0 p t
	for p in "$1" $(pgrep -P "$1" || true); do
		t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		total=$((total + t))
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

echo "== quill TLS termination benchmark"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "kernel:   $(uname -sr)"
echo "go:       $(go version | cut -d' ' -f3-)"
echo "quill:    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "haproxy:  $(haproxy -v | head -1)"
echo "nginx:    $(nginx -v 2>&1)"
echo "openssl:  $(openssl version)"
echo "wrk:      $(wrk -v 2>&1 | head -1)"
echo "settings: DURATION=$DURATION CONNS=$CONNS WRK_THREADS=$WRK_THREADS WRK_CONNS=$WRK_CONNS"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before the run; other work on the machine skews the rates"
echo

go build -o "$work/quill" ./cmd/quill
go build -o "$work/testbackend" ./e2e/testbackend
go build -o "$work/handshakes" ./bench/tls/handshakes

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=bench.quill.test -addext "subjectAltName=DNS:bench.quill.test,IP:127.0.0.1" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" >"$work/combined.pem"

"$work/testbackend" -name web -listen 127.0.0.1:0 -addr-file "$work/backend.addr" >"$work/backend.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do [[ -s $work/backend.addr ]] && break; sleep 0.1; done
backend=$(cat "$work/backend.addr")

declare -A port plain pid
port[quill]=$(free_port 18443)
port[haproxy]=$(free_port $((port[quill] + 1)))
port[nginx]=$(free_port $((port[haproxy] + 1)))
plain[quill]=$(free_port 18080)
plain[haproxy]=$(free_port $((plain[quill] + 1)))
plain[nginx]=$(free_port $((plain[haproxy] + 1)))

cat >"$work/quill.toml" <<EOF
[global]
shutdown_timeout = "2s"

[log]
level = "warn"

[vips.bench]
listen = ["127.0.0.1:${port[quill]}"]
  [vips.bench.tls]
  certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
  [[vips.bench.routes]]
  pool = "app"

[vips.plain]
listen = ["127.0.0.1:${plain[quill]}"]
  [[vips.plain.routes]]
  pool = "app"

[pools.app]
servers = [{ address = "$backend" }]
EOF

cat >"$work/haproxy.cfg" <<EOF
global
	maxconn 8000
	nbthread 2

defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	option forwardfor

frontend bench
	bind 127.0.0.1:${port[haproxy]} ssl crt $work/combined.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2 curves X25519:P-256:P-384
	http-request set-header X-Forwarded-Proto https
	http-request set-header X-Forwarded-Host %[req.hdr(host)]
	default_backend app

frontend plain
	bind 127.0.0.1:${plain[haproxy]}
	http-request set-header X-Forwarded-Proto http
	http-request set-header X-Forwarded-Host %[req.hdr(host)]
	default_backend app

backend app
	server web $backend
EOF

mkdir -p "$work/nginx/logs"
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx.log warn;
events { worker_connections 10000; }
http {
	access_log off;
	upstream app {
		server $backend;
		keepalive 64;
	}
	server {
		listen 127.0.0.1:${port[nginx]} ssl http2;
		listen 127.0.0.1:${plain[nginx]};
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$http_host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_set_header X-Forwarded-Host \$http_host;
		}
	}
}
EOF

"$work/quill" run -c "$work/quill.toml" >"$work/quill.log" 2>&1 &
pid[quill]=$!
pids+=("${pid[quill]}")
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pid[haproxy]=$!
pids+=("${pid[haproxy]}")
nginx -p "$work/nginx" -e "$work/nginx.log" -c "$work/nginx.conf" -g 'daemon off;' >"$work/nginx.out" 2>&1 &
pid[nginx]=$!
pids+=("${pid[nginx]}")
for p in quill haproxy nginx; do
	wait_port "${port[$p]}" "" "$work/$p.log"
	wait_port "${plain[$p]}" "" "$work/$p.log"
done

# Every proxy answers with the backend and the same X-Forwarded-Proto.
for p in quill haproxy nginx; do
	got=$(curl -sk "https://127.0.0.1:${port[$p]}/echo")
	if [[ $got != *'"backend":"web"'* || $got != *'"X-Forwarded-Proto":["https"]'* ]]; then
		echo "$p does not proxy as expected: $got" >&2
		exit 1
	fi
done
echo "proxies (https, http): quill :${port[quill]} :${plain[quill]}, haproxy :${port[haproxy]} :${plain[haproxy]}, nginx :${port[nginx]} :${plain[nginx]} -> backend $backend"
echo

declare -A result cpu
# measure NAME PROXY COMMAND...: runs the command, keeps the figure it
# prints and the proxy's CPU time per unit of it.
measure() {
	local what=$1 p=$2 before after out rate count secs
	shift 2
	before=$(cpu_ticks "${pid[$p]}")
	out=$("$@" 2>&1) || { echo "$p $what failed: $out" >&2; exit 1; }
	after=$(cpu_ticks "${pid[$p]}")
	case $what in
	wrk*)
		rate=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
		count=$(awk '/requests in/ { print $1 }' <<<"$out")
		if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
			echo "$p: wrk saw errors:" >&2
			echo "$out" >&2
			exit 1
		fi
		;;
	*)
		rate=$(sed -n 's/^handshakes\/s=\([0-9.]*\) .*/\1/p' <<<"$out")
		count=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' <<<"$out")
		;;
	esac
	secs=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
	result[$what,$p]=$rate
	cpu[$what,$p]=$(awk -v s="$secs" -v n="$count" 'BEGIN { printf "%.0f", n ? s * 1e6 / n : 0 }')
	printf '%-8s %-11s %s\n' "$p" "$what" "$(tr '\n' ' ' <<<"$out" | sed 's/  */ /g')"
	printf '%-8s %-11s proxy CPU %ss for %s = %s us each\n' "$p" "$what" "$secs" "$count" "${cpu[$what,$p]}"
}

# profile starts perf on quill for the length of one measurement (PROFILE=1).
perfpid=
profile() {
	[[ $PROFILE == 1 && $2 == quill ]] || return 0
	perf record -F 999 -g -p "${pid[quill]}" -o "$work/perf-$1.data" -- sleep "$DURATION" >/dev/null 2>&1 &
	perfpid=$!
	pids+=("$perfpid")
}
profile_done() {
	if [[ -n $perfpid ]]; then
		wait "$perfpid" || true
		perfpid=
	fi
}

for p in quill haproxy nginx; do
	# Warm-up: connections, the backend's idle pool, caches.
	"$work/handshakes" -addr "127.0.0.1:${port[$p]}" -c "$CONNS" -d 1s >/dev/null
	wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d1s "https://127.0.0.1:${port[$p]}/" >/dev/null

	profile handshakes13 "$p"
	measure hs-tls1.3 "$p" "$work/handshakes" -addr "127.0.0.1:${port[$p]}" -c "$CONNS" -d "$DURATION" -tls 1.3
	profile_done
	measure hs-tls1.3pq "$p" "$work/handshakes" -addr "127.0.0.1:${port[$p]}" -c "$CONNS" -d "$DURATION" -tls 1.3 -groups go
	measure hs-tls1.2 "$p" "$work/handshakes" -addr "127.0.0.1:${port[$p]}" -c "$CONNS" -d "$DURATION" -tls 1.2
	profile wrk "$p"
	measure wrk "$p" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$DURATION" --latency "https://127.0.0.1:${port[$p]}/"
	profile_done
	measure wrk-plain "$p" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$DURATION" --latency "http://127.0.0.1:${plain[$p]}/"
	echo
done

echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) after the run"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
echo "== results: rates are higher-is-better; proxy CPU time per connection or request is lower-is-better"
printf '%-38s %10s %10s %10s %14s %12s\n' "" quill haproxy nginx quill/haproxy quill/nginx
for row in "hs-tls1.3|full TLS 1.3 handshakes/s" "hs-tls1.3pq|  same, client offers MLKEM first" "hs-tls1.2|full TLS 1.2 handshakes/s" "wrk|keep-alive HTTPS requests/s" "wrk-plain|  same over plain HTTP"; do
	what=${row%%|*}
	label=${row#*|}
	printf '%-38s %10s %10s %10s %14s %12s\n' "$label" "${result[$what,quill]}" "${result[$what,haproxy]}" "${result[$what,nginx]}" \
		"$(ratio "${result[$what,quill]}" "${result[$what,haproxy]}")" "$(ratio "${result[$what,quill]}" "${result[$what,nginx]}")"
done
for row in "hs-tls1.3|proxy CPU us per TLS 1.3 conn" "hs-tls1.3pq|  same, client offers MLKEM first" "hs-tls1.2|proxy CPU us per TLS 1.2 conn" "wrk|proxy CPU us per keep-alive request" "wrk-plain|  same over plain HTTP"; do
	what=${row%%|*}
	label=${row#*|}
	printf '%-38s %10s %10s %10s %14s %12s\n' "$label" "${cpu[$what,quill]}" "${cpu[$what,haproxy]}" "${cpu[$what,nginx]}" \
		"$(ratio "${cpu[$what,quill]}" "${cpu[$what,haproxy]}")" "$(ratio "${cpu[$what,quill]}" "${cpu[$what,nginx]}")"
done

if [[ $PROFILE == 1 ]]; then
	for f in handshakes13 wrk; do
		echo
		echo "== perf profile of quill during $f: self time, top 25"
		perf report -i "$work/perf-$f.data" --stdio --no-children --sort symbol 2>/dev/null |
			grep -E '^ +[0-9]+\.[0-9]+%' | head -25 || true
		echo
		echo "== perf profile of quill during $f: with callees, top 40"
		perf report -i "$work/perf-$f.data" --stdio --children --sort symbol -g none 2>/dev/null |
			grep -E '^ +[0-9]+\.[0-9]+%' | head -40 || true
	done
fi
