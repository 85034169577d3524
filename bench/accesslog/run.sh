#!/usr/bin/env bash
# Access log benchmark, on loopback only:
#  (a) requests per second through quill with the access log on and off,
#      with wrk against the e2e testbackend (keep-alive on both sides);
#  (b) `quill logs merge` against Debian's mergelog on two generated logs
#      with interleaved times: seconds, MB/s, and whether the outputs are
#      identical.
#
# Usage: bench/accesslog/run.sh
# Environment (defaults in brackets):
#   SIZE_MB      size of each generated log in MB of 10^6 bytes [1024]
#   DURATION     length of each wrk run [10s]
#   ROUNDS       off/on pairs of wrk runs, alternated to even out drift [2]
#   MERGE_RUNS   runs of each merge tool, the fastest counts [3]
#   THREADS      wrk threads [2]
#   CONNECTIONS  wrk connections [64]
#   WORKDIR      where binaries, logs and merge outputs go; it needs about
#                4 x SIZE_MB of space [a new directory under ${TMPDIR:-/tmp}]
# Needs: go, wrk, mergelog; /usr/bin/time is used for peak memory if present.
set -euo pipefail

cd "$(dirname "$0")/../.."
SIZE_MB=${SIZE_MB:-1024}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
MERGE_RUNS=${MERGE_RUNS:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}

for tool in go wrk mergelog; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done

own_workdir=0
if [[ -z "${WORKDIR:-}" ]]; then
	WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/quill-bench.XXXXXX")
	own_workdir=1
fi
mkdir -p "$WORKDIR"

# Processes started here, killed by PID on the way out.
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if ((own_workdir)); then
		rm -rf "$WORKDIR"
	fi
}
trap cleanup EXIT

# listening ADDR: whether something accepts connections on ADDR.
listening() {
	(exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null
}

# free_addr: a loopback address nobody listens on now.
free_addr() {
	local port
	while :; do
		port=$((20000 + RANDOM % 40000))
		if ! listening "127.0.0.1:$port"; then
			echo "127.0.0.1:$port"
			return
		fi
	done
}

# wait_listening ADDR PID: until ADDR accepts, or fail when PID exits.
wait_listening() {
	local i
	for ((i = 0; i < 500; i++)); do
		listening "$1" && return 0
		kill -0 "$2" 2>/dev/null || { echo "run.sh: process $2 exited before listening on $1" >&2; exit 1; }
		sleep 0.02
	done
	echo "run.sh: nothing listens on $1 after 10s" >&2
	exit 1
}

# stop PID: TERM, then wait; quill flushes its access log on TERM.
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for i in "${!pids[@]}"; do
		[[ ${pids[$i]} == "$pid" ]] && unset 'pids[i]'
	done
	return 0
}

echo "== build"
go build -o "$WORKDIR/quill" ./cmd/quill
go build -o "$WORKDIR/testbackend" ./e2e/testbackend
go build -o "$WORKDIR/genlog" ./bench/accesslog/genlog
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(go version | cut -d' ' -f3-)"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo

echo "== (a) requests per second, access log off and on (wrk -t$THREADS -c$CONNECTIONS -d$DURATION)"
rm -f "$WORKDIR/backend.addr"
"$WORKDIR/testbackend" -name web -addr-file "$WORKDIR/backend.addr" 2>"$WORKDIR/backend.err" &
pids+=($!)
backend_pid=$!
for ((i = 0; i < 500; i++)); do
	[[ -s "$WORKDIR/backend.addr" ]] && break
	sleep 0.02
done
backend=$(cat "$WORKDIR/backend.addr")

# bench_quill on|off: one wrk run through a fresh quill; sets rps.
bench_quill() {
	local mode=$1 addr conf log pid out requests lines
	addr=$(free_addr)
	conf="$WORKDIR/quill-$mode.toml"
	log="$WORKDIR/access-$mode.log"
	rm -f "$log"
	{
		printf '[global]\nshutdown_timeout = "5s"\n\n[log]\nlevel = "warn"\n\n'
		if [[ $mode == on ]]; then
			printf '[access_log]\npath = "%s"\n\n' "$log"
		fi
		printf '[vips.web]\nlisten = ["%s"]\n  [[vips.web.routes]]\n  pool = "app"\n\n' "$addr"
		printf '[pools.app]\nservers = [{ address = "%s" }]\n' "$backend"
	} >"$conf"
	"$WORKDIR/quill" run -c "$conf" 2>"$WORKDIR/quill-$mode.err" &
	pid=$!
	pids+=("$pid")
	wait_listening "$addr" "$pid"
	wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "http://$addr/" >/dev/null # warm-up
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "http://$addr/" >"$WORKDIR/wrk.out"
	stop "$pid"
	out=$(<"$WORKDIR/wrk.out")
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	requests=$(awk '/ requests in / {print $1}' <<<"$out")
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		echo "$out" >&2
		echo "run.sh: wrk saw errors" >&2
		exit 1
	fi
	if [[ $mode == on ]]; then
		# Every request of the warm-up and of the measured run has its line.
		lines=$(wc -l <"$log")
		if ((lines < requests)); then
			echo "run.sh: $lines log lines for $requests requests" >&2
			exit 1
		fi
		printf '  log on : %8.0f req/s  (%s requests; %s lines, %s MB in the log)\n' "$rps" "$requests" "$lines" \
			"$(awk -v b="$(stat -c %s "$log")" 'BEGIN {printf "%.1f", b / 1e6}')"
	else
		printf '  log off: %8.0f req/s  (%s requests)\n' "$rps" "$requests"
	fi
}

off_sum=0
on_sum=0
for ((round = 1; round <= ROUNDS; round++)); do
	echo " round $round"
	bench_quill off
	off_sum=$(awk -v a="$off_sum" -v b="$rps" 'BEGIN {print a + b}')
	bench_quill on
	on_sum=$(awk -v a="$on_sum" -v b="$rps" 'BEGIN {print a + b}')
done
stop "$backend_pid"
awk -v off="$off_sum" -v on="$on_sum" -v n="$ROUNDS" 'BEGIN {
	printf "mean of %d rounds: log off %.0f req/s, log on %.0f req/s, on/off %.3f: logging costs %.1f%% of throughput\n",
		n, off / n, on / n, on / off, (1 - on / off) * 100
}'
echo

echo "== (b) merging two logs of $SIZE_MB MB each: quill logs merge vs mergelog"
"$WORKDIR/genlog" -size-mb "$SIZE_MB" -seed 1 -client 192.0.2.10 -o "$WORKDIR/lb1.log"
"$WORKDIR/genlog" -size-mb "$SIZE_MB" -seed 2 -client 198.51.100.20 -o "$WORKDIR/lb2.log"
in_bytes=$(($(stat -c %s "$WORKDIR/lb1.log") + $(stat -c %s "$WORKDIR/lb2.log")))
echo "input: lb1.log + lb2.log, $(awk -v b="$in_bytes" 'BEGIN {printf "%.0f", b / 1e6}') MB, $(($(wc -l <"$WORKDIR/lb1.log") + $(wc -l <"$WORKDIR/lb2.log"))) lines"
cat "$WORKDIR/lb1.log" "$WORKDIR/lb2.log" >/dev/null # both tools start from the page cache

# timed NAME OUT CMD...: runs CMD with stdout to OUT and sets secs and kb
# (peak RSS, "?" without /usr/bin/time).
timed() {
	local name=$1 out=$2 start end
	shift 2
	rm -f "$out"
	sync # no writeback of earlier files during the run
	if [[ -x /usr/bin/time ]]; then
		/usr/bin/time -f '%e %M' -o "$WORKDIR/$name.time" "$@" >"$out"
		read -r secs kb <"$WORKDIR/$name.time"
	else
		start=$(date +%s%N)
		"$@" >"$out"
		end=$(date +%s%N)
		secs=$(awk -v ns=$((end - start)) 'BEGIN {printf "%.2f", ns / 1e9}')
		kb="?"
	fi
}

# Each tool MERGE_RUNS times, alternately; the fastest run counts.
quill_s=
mergelog_s=
for ((run = 1; run <= MERGE_RUNS; run++)); do
	timed quill "$WORKDIR/merged-quill.log" "$WORKDIR/quill" logs merge "$WORKDIR/lb1.log" "$WORKDIR/lb2.log"
	echo "  run $run: quill logs merge $secs s"
	if [[ -z $quill_s ]] || awk -v a="$secs" -v b="$quill_s" 'BEGIN {exit !(a < b)}'; then
		quill_s=$secs quill_kb=$kb
	fi
	timed mergelog "$WORKDIR/merged-mergelog.log" mergelog "$WORKDIR/lb1.log" "$WORKDIR/lb2.log"
	echo "  run $run: mergelog         $secs s"
	if [[ -z $mergelog_s ]] || awk -v a="$secs" -v b="$mergelog_s" 'BEGIN {exit !(a < b)}'; then
		mergelog_s=$secs mergelog_kb=$kb
	fi
done
if cmp -s "$WORKDIR/merged-quill.log" "$WORKDIR/merged-mergelog.log"; then
	same="identical"
else
	same="DIFFERENT"
fi
awk -v runs="$MERGE_RUNS" -v b="$in_bytes" -v q="$quill_s" -v m="$mergelog_s" -v qk="$quill_kb" -v mk="$mergelog_kb" -v same="$same" 'BEGIN {
	printf "fastest of %d runs:\n", runs
	printf "quill logs merge: %6.2f s, %7.1f MB/s, peak RSS %s KB\n", q, b / 1e6 / q, qk
	printf "mergelog:         %6.2f s, %7.1f MB/s, peak RSS %s KB\n", m, b / 1e6 / m, mk
	printf "quill is %.2fx the speed of mergelog; outputs %s (cmp)\n", m / q, same
}'
[[ $same == identical ]]
