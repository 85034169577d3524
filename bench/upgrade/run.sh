#!/usr/bin/env bash
# Binary upgrade under load: quill's USR2, and beside it nginx's USR2 then
# QUIT of the old master, measured the same way. Each proxy serves an HTTP
# and an HTTPS listener in front of the same backend (e2e/testbackend);
# ./load keeps clients sending (kept-alive and new connections, HTTP/1.1
# and HTTP/2, see its doc) while the script upgrades the proxy's binary
# UPGRADES times, waiting each time until the new process is in the pid
# file and the old one has exited. It prints, for each proxy, the
# connections refused and requests failed among those sent.
#
#   bench/upgrade/run.sh                 # about a minute
#   UPGRADES=10 GAP=1 bench/upgrade/run.sh
#
# Wants go, openssl and nginx (nginx-light will do). Every process it
# starts, the new masters included, is killed by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"

UPGRADES=${UPGRADES:-5}
GAP=${GAP:-2}   # seconds of load before the first upgrade and after each

. bench/lib.sh
declare -A tools=([openssl]=openssl [nginx]=nginx-light)
bench_install tools
bench_workdir quill-bench-upgrade
NGINX=$(command -v nginx)

# wait_for waits (30 s at most) until the command succeeds.
wait_for() {
	local i
	for ((i = 0; i < 300; i++)); do
		if "$@"; then return; fi
		sleep 0.1
	done
	echo "timed out waiting for: $*" >&2
	exit 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null || [[ $(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
new_pid() { local p; p=$(cat "$1" 2>/dev/null) && [[ -n $p && $p != "$2" ]]; }

echo "== binary upgrade under load"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:  $(nproc) cores, $(uname -sr)"
echo "quill:    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "nginx:    $("$NGINX" -v 2>&1)"
echo "settings: UPGRADES=$UPGRADES GAP=${GAP}s"

go build -o "$work/quill" ./cmd/quill
go build -o "$work/backend" ./e2e/testbackend
go build -o "$work/load" ./bench/upgrade/load
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

"$work/backend" -name web -addr-file "$work/backend.addr" >"$work/backend.log" 2>&1 &
pids+=($!)
wait_for test -s "$work/backend.addr"
backend=$(cat "$work/backend.addr")

declare -A plain secure
plain[quill]=$(free_port 18100)
secure[quill]=$(free_port $((plain[quill] + 1)))
plain[nginx]=$(free_port $((secure[quill] + 1)))
secure[nginx]=$(free_port $((plain[nginx] + 1)))
admin=$(free_port $((secure[nginx] + 1)))

cat >"$work/quill.toml" <<EOF
[global]
pid_file = "$work/quill.pid"
shutdown_timeout = "10s"
[admin]
listen = "127.0.0.1:$admin"
[vips.plain]
listen = ["127.0.0.1:${plain[quill]}"]
  [[vips.plain.routes]]
  pool = "app"
[vips.secure]
listen = ["127.0.0.1:${secure[quill]}"]
  [vips.secure.tls]
  certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
  [[vips.secure.routes]]
  pool = "app"
[pools.app]
servers = [{ address = "$backend" }]
[access_log]
path = "$work/quill-access.log"
EOF

mkdir -p "$work/nginx/logs"
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx.log notice;
events { worker_connections 4096; }
http {
	access_log $work/nginx-access.log;
	upstream app {
		server $backend;
		keepalive 16;
	}
	server {
		listen 127.0.0.1:${plain[nginx]};
		listen 127.0.0.1:${secure[nginx]} ssl http2;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
EOF

# measure NAME PIDFILE UPGRADE: run the load against NAME's listeners and
# upgrade UPGRADES times with UPGRADE OLDPID, which returns once the new
# process is in PIDFILE and the old one has exited.
measure() {
	local name=$1 pidfile=$2 upgrade=$3 i old load_pid started
	"$work/load" -http "127.0.0.1:${plain[$name]}" -https "127.0.0.1:${secure[$name]}" \
		-d $((GAP * (UPGRADES + 1) + 60))s >"$work/$name.load" 2>"$work/$name.failures" &
	load_pid=$!
	pids+=("$load_pid")
	sleep "$GAP"
	for ((i = 1; i <= UPGRADES; i++)); do
		old=$(cat "$pidfile")
		started=$(date +%s%N)
		"$upgrade" "$old"
		echo "  $name upgrade $i: pid $old -> $(cat "$pidfile"), old one gone after $((($(date +%s%N) - started) / 1000000)) ms"
		sleep "$GAP"
	done
	kill -INT "$load_pid"
	wait "$load_pid" || true
	printf '%-6s %s\n' "$name" "$(cat "$work/$name.load")"
	head -3 "$work/$name.failures" | sed 's/^/         /'
}

quill_upgrade() {
	kill -USR2 "$1"
	wait_for new_pid "$work/quill.pid" "$1"
	pids+=("$(cat "$work/quill.pid")")
	wait_for gone "$1"
}

# nginx's documented procedure: USR2 starts the new master (the old pid
# file becomes nginx.pid.oldbin), then QUIT stops the old master
# gracefully.
nginx_upgrade() {
	kill -USR2 "$1"
	wait_for new_pid "$work/nginx/nginx.pid" "$1"
	pids+=("$(cat "$work/nginx/nginx.pid")")
	wait_for test -s "$work/nginx/nginx.pid.oldbin"
	kill -QUIT "$1"
	wait_for gone "$1"
}

"$work/quill" run -c "$work/quill.toml" >"$work/quill.log" 2>&1 &
pids+=($!)
wait_for listening "${plain[quill]}"
wait_for listening "${secure[quill]}"
# nginx must be started by its absolute path for USR2 to find its binary.
"$NGINX" -p "$work/nginx" -e "$work/nginx.log" -c "$work/nginx.conf"
wait_for test -s "$work/nginx/nginx.pid"
pids+=("$(cat "$work/nginx/nginx.pid")")
wait_for listening "${plain[nginx]}"

echo
echo "$UPGRADES upgrades under load, one proxy at a time:"
measure quill "$work/quill.pid" quill_upgrade
measure nginx "$work/nginx/nginx.pid" nginx_upgrade

# Both write an access log line per request: stop them to flush, and count.
q=$(cat "$work/quill.pid") n=$(cat "$work/nginx/nginx.pid")
kill -TERM "$q"
kill -QUIT "$n"
wait_for gone "$q"
wait_for gone "$n"
echo "access log lines: quill $(wc -l <"$work/quill-access.log"), nginx $(wc -l <"$work/nginx-access.log")"
