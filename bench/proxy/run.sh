#!/usr/bin/env bash
# quill beside HAProxy, nginx and pen, one interleaved run on loopback.
#
# Every proxy forwards to the same two backends (bench/proxy/backend: 1 KiB on
# /, 1 MiB on /big, a POST sink) with round-robin, X-Forwarded-For and
# keep-alive to the backends where it can (peers.sh says how each is set up).
# Scenarios, each in every round for every target that has it, the targets'
# order rotating from round to round; the figures are medians over the rounds:
#
#   ka64    HTTP/1.1 keep-alive, 64 connections (wrk)
#   ka256   the same, 256 connections
#   close   a new connection per request (Connection: close)
#   https   HTTPS keep-alive, 64 connections
#   h2      HTTP/2 over TLS (h2load)
#   big     1 MiB answers (MiB/s)
#   post    64 KiB POST bodies
#   sticky  cookie stickiness on, clients sending their cookie
#   log     access log on
#
# For each: req/s, p50 and p99, requests per proxy CPU-second (utime+stime of
# the proxy's process and its children, from /proc), and quill's ratio to each
# peer. Then the memory of an idle keep-alive connection: each proxy in a fresh
# process, IDLE_CONNS connections that made one request each and stay open,
# plain and TLS; (RSS after - RSS before) / connections.
#
#   bench/proxy/run.sh                       # about 11 minutes on 2 cores (13 with SPIKES=1)
#   DUR=1s ROUNDS=1 bench/proxy/run.sh       # a smoke test
#   SPIKES=1 bench/proxy/run.sh              # also the fasthttp spike and the smuggling probes
#   EXTRA='mine=/path/to/fwd -listen 127.0.0.1:{PORT} {BACKENDS}' bench/proxy/run.sh
#
# Environment (defaults in brackets):
#   ROUNDS [3]  DUR [5s]   rounds, and the length of each measurement
#   SPIKES [0]  1: build and measure the engine spikes bench/proxy/spikes/fasthttp and
#               bench/proxy/spikes/h1 as "fasthttp-spike" and "h1-spike"
#   EXTRA       more targets, "name=command" separated by ";": the command is
#               run with {PORT} (its port on 127.0.0.1), {BACKENDS} ("b1 b2"),
#               {BACKEND1} and {BACKEND2} replaced; it gets the plain-HTTP scenarios
#   PROBES [$SPIKES]  1: the smuggling probes against every target
#   PEERS [quill haproxy nginx pen]   SCENARIOS [all of the above]
#   THREADS [2] (wrk, h2load)  H2_CONNS [16]  H2_STREAMS [16]  BIG_CONNS [16]
#   IDLE_CONNS [5000] (0: no memory test)   OUT [bench/proxy/RESULTS.md]
#   IDLE_WAIT [5]  seconds the connections stay idle before each proxy's RSS is read
#   QUILL_BIN   a quill binary to measure instead of building ./cmd/quill
#
# Installs haproxy, nginx-light, pen, wrk, nghttp2-client (h2load), curl and
# openssl with apt-get when missing. Listens on 127.0.0.1 only; every process
# it starts is killed by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH:/usr/sbin:/sbin"

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5s}
SPIKES=${SPIKES:-0}
EXTRA=${EXTRA:-}
PROBES=${PROBES:-$SPIKES}
PEERS=${PEERS:-quill haproxy nginx pen}
SCENARIOS=${SCENARIOS:-ka64 ka256 close https h2 big post sticky log}
THREADS=${THREADS:-2}
H2_CONNS=${H2_CONNS:-16}
H2_STREAMS=${H2_STREAMS:-16}
BIG_CONNS=${BIG_CONNS:-16}
IDLE_CONNS=${IDLE_CONNS:-5000}
IDLE_WAIT=${IDLE_WAIT:-5}
OUT=${OUT:-bench/proxy/RESULTS.md}

# shellcheck disable=SC2034 # bench_install reads it by name
declare -A pkg=([haproxy]=haproxy [nginx]=nginx-light [pen]=pen [wrk]=wrk [h2load]=nghttp2-client [curl]=curl [openssl]=openssl)
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_install pkg
# 5,000 idle clients are 5,000 descriptors in the client and, for pen, 5,000
# more backend connections. The proxies' connection limits follow from what
# the machine allows: a proxied connection takes two descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
max_conns=$((($(ulimit -n) - 200) / 2))
((max_conns <= 30000)) || max_conns=30000
if ((IDLE_CONNS > max_conns - 500)); then
	echo "run.sh: IDLE_CONNS=$IDLE_CONNS needs more descriptors than ulimit -n allows ($(ulimit -n))" >&2
	exit 1
fi

bench_workdir quill-bench-proxy
# shellcheck source=bench/proxy/peers.sh
. bench/proxy/peers.sh
hz=$(getconf CLK_TCK)

declare -A port pid extra_cmd
port_base=19100
# alloc_port KEY sets port[KEY] to a free loopback port.
alloc_port() {
	local p
	p=$(free_port "$port_base")
	port_base=$((p + 1))
	port[$1]=$p
}

# cpu_ticks PID: user+system clock ticks of PID and its children so far.
cpu_ticks() {
	local total=0 p t
	for p in "$1" $(pgrep -P "$1" || true); do
		t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		total=$((total + t))
	done
	echo "$total"
}

# rss_kb PID: VmRSS of PID and its children, in KiB.
rss_kb() {
	local total=0 p r
	for p in "$1" $(pgrep -P "$1" || true); do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
		total=$((total + ${r:-0}))
	done
	echo "$total"
}

notes=()
note() {
	notes+=("$*")
	echo "note: $*" >&2
}

echo "== building"
if [[ -n ${QUILL_BIN:-} ]]; then
	cp "$QUILL_BIN" "$work/quill"
else
	go build -o "$work/quill" ./cmd/quill
fi
go build -o "$work/backend" ./bench/proxy/backend
go build -o "$work/idleconns" ./bench/proxy/idleconns
go build -o "$work/probe" ./bench/proxy/probe

read -r -a targets <<<"$PEERS"
if [[ $SPIKES == 1 ]]; then
	(cd bench/proxy/spikes/fasthttp && go build -o "$work/fasthttp-spike" .)
	targets+=(fasthttp-spike)
	extra_cmd[fasthttp-spike]="$work/fasthttp-spike -listen 127.0.0.1:{PORT} {BACKENDS}"
	go build -o "$work/h1-spike" ./bench/proxy/spikes/h1
	targets+=(h1-spike)
	extra_cmd[h1-spike]="$work/h1-spike -listen 127.0.0.1:{PORT} {BACKENDS}"
fi
IFS=';' read -r -a extras <<<"$EXTRA"
for e in "${extras[@]}"; do
	[[ $e == *=* ]] || continue
	name=${e%%=*}
	name=${name//[[:space:]]/}
	extra_cmd[$name]=${e#*=}
	targets+=("$name")
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=bench.quill.test -addext "subjectAltName=DNS:bench.quill.test,IP:127.0.0.1" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" >"$work/combined.pem"

for n in b1 b2; do
	"$work/backend" -name "$n" -listen 127.0.0.1:0 -addr-file "$work/$n.addr" >"$work/backend-$n.log" 2>&1 &
	pids+=($!)
done
for n in b1 b2; do
	for ((i = 0; i < 100; i++)); do [[ -s $work/$n.addr ]] && break; sleep 0.1; done
done
b1=$(cat "$work/b1.addr")
b2=$(cat "$work/b2.addr")

for t in "${targets[@]}"; do plan_target "$t"; done
write_configs
if [[ -n ${has[quill,plain]:-} ]]; then
	"$work/quill" check -c "$work/quill.toml" >/dev/null
fi
for t in "${targets[@]}"; do start_target "$t"; done

# shellcheck source=bench/proxy/measure.sh
. bench/proxy/measure.sh

echo "== checking that every target forwards alike"
for t in "${targets[@]}"; do check_target "$t"; done

# Connections, backend pools, TLS session caches: warm before the first round.
for t in "${targets[@]}"; do
	for m in plain tls sticky log; do
		[[ -n ${has[$t,$m]:-} ]] || continue
		scheme=http
		[[ $m == tls ]] && scheme=https
		wrk -t1 -c16 -d1s "$scheme://127.0.0.1:${port[$t,$m]}/" >/dev/null 2>&1 || true
	done
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
n_runs=0
for s in $SCENARIOS; do
	for t in "${targets[@]}"; do if runs "$s" "$t"; then n_runs=$((n_runs + 1)); fi; done
done
echo "== $ROUNDS rounds of $n_runs measurements of $DUR (load before: $load_before)"
for ((r = 1; r <= ROUNDS; r++)); do
	# Rotating the order spreads the drift of a shared machine over the targets.
	k=$(((r - 1) % ${#targets[@]}))
	order=("${targets[@]:k}" "${targets[@]:0:k}")
	for s in $SCENARIOS; do
		for t in "${order[@]}"; do
			if runs "$s" "$t"; then measure "$s" "$t" "$r"; fi
		done
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
count_log_lines

if [[ $PROBES == 1 ]]; then
	echo "== smuggling probes"
	for t in "${targets[@]}"; do probe_target "$t"; done
fi

for t in "${targets[@]}"; do stop_target "$t"; done
if ((IDLE_CONNS > 0)); then
	echo "== memory of $IDLE_CONNS idle keep-alive connections, each proxy in a fresh process"
	for t in "${targets[@]}"; do
		for m in plain tls; do
			if [[ -n ${has[$t,$m]:-} ]]; then idle_rss "$t" "$m"; fi
		done
	done
fi

# shellcheck source=bench/proxy/report.sh
. bench/proxy/report.sh
report >"$work/results.md"
echo
cat "$work/results.md"
cp "$work/results.md" "$OUT"
echo
echo "written to $OUT; the run took $((SECONDS / 60)) min $((SECONDS % 60)) s"
