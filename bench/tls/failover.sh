#!/usr/bin/env bash
# What a failover costs TLS clients, with and without a shared [global]
# secret: two pairs of quill processes on loopback stand for hosts A and B
# of an HA pair (same config but for the port, same certificate), one pair
# with the same secret, one without any. ./failover gives CLIENTS clients a
# session on A, then connects them all to B, and counts the resumed
# handshakes; it then repeats the connections to B ROUNDS times from A's
# sessions and reads B's CPU time, for handshakes (each with one proxied
# request) per CPU-second, resumed against full.
#
#   bench/tls/failover.sh                  # well under a minute
#   CLIENTS=500 ROUNDS=4 bench/tls/failover.sh
#   KEY=rsa bench/tls/failover.sh          # an RSA 2048 certificate
#
# Wants go and openssl. Every process it starts is killed by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"

CLIENTS=${CLIENTS:-200}
ROUNDS=${ROUNDS:-10}
WORKERS=${WORKERS:-8}
KEY=${KEY:-ec}
case $KEY in
ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) keyname="ECDSA P-256" ;;
rsa) newkey=(-newkey rsa:2048) keyname="RSA 2048" ;;
*) echo "KEY is ec or rsa" >&2; exit 1 ;;
esac

for tool in go openssl; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done

. bench/lib.sh
bench_workdir quill-bench-failover

echo "== quill TLS sessions across a failover"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "go:       $(go version | cut -d' ' -f3-)"
echo "quill:    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "settings: CLIENTS=$CLIENTS ROUNDS=$ROUNDS WORKERS=$WORKERS, $keyname certificate"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before the run"
echo

go build -o "$work/quill" ./cmd/quill
go build -o "$work/testbackend" ./e2e/testbackend
go build -o "$work/failover" ./bench/tls/failover

openssl req -x509 "${newkey[@]}" -nodes -days 30 \
	-subj /CN=bench.quill.test -addext "subjectAltName=DNS:bench.quill.test" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

"$work/testbackend" -name web -listen 127.0.0.1:0 -addr-file "$work/backend.addr" >"$work/backend.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do [[ -s $work/backend.addr ]] && break; sleep 0.1; done
backend=$(cat "$work/backend.addr")

# host NAME PORT SECRET starts one quill; its PID goes to pid[NAME].
declare -A pid
host() {
	local secret=""
	[[ -n $3 ]] && secret="secret = \"$3\""
	cat >"$work/$1.toml" <<EOF2
[global]
shutdown_timeout = "2s"
$secret

[log]
level = "warn"

[vips.www]
listen = ["127.0.0.1:$2"]
  [vips.www.tls]
  certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
  [[vips.www.routes]]
  pool = "app"

[pools.app]
servers = [{ address = "$backend" }]
EOF2
	"$work/quill" run -c "$work/$1.toml" >"$work/$1.log" 2>&1 &
	pid[$1]=$!
	pids+=("${pid[$1]}")
	wait_port "$2" "" "$work/$1.log"
}

secret=$(openssl rand -hex 32)
pA=$(free_port 18443); host shared-A "$pA" "$secret"
pB=$(free_port $((pA + 1))); host shared-B "$pB" "$secret"
qA=$(free_port $((pB + 1))); host own-A "$qA" ""
qB=$(free_port $((qA + 1))); host own-B "$qB" ""

run() {
	"$work/failover" -a "127.0.0.1:$2" -b "127.0.0.1:$3" -b-pid "${pid[$4]}" -hz "$(getconf CLK_TCK)" \
		-ca "$work/cert.pem" -clients "$CLIENTS" -rounds "$ROUNDS" -workers "$WORKERS" -label "$1"
}
run "shared secret:   " "$pA" "$pB" shared-B
run "no secret (own): " "$qA" "$qB" own-B
