#!/usr/bin/env bash
# quill, HAProxy and nginx under the same hostile clients, on loopback.
#
# Each proxy gets a logging backend of its own (bench/hostile/attack -backend:
# an "app" and a "static" listener, a control listener the probes read), a
# plain HTTP listener and a TLS one (HTTP/2 by ALPN), a /static/ route to
# "static" and a catch-all to "app", an access log, and 60 s timeouts where
# it has them; everything else is each proxy's default. The probes
# (bench/hostile/attack -list):
#
#   body-timeout    POST, Content-Length: 100, no body; waits up to 130 s
#   send-timeout    20 pipelined GETs of 1 MiB, nothing read; up to 200 s
#   slow-post       500 POSTs of Content-Length 10000000, a byte every 2 s, 60 s
#   slow-readers    500 GETs of 1 MiB read by nobody for 60 s beside one
#                   keep-alive client: its latency; the proxy's RSS
#   bad-chunk       17 hex digits of chunk size; a bare-LF chunk line
#   many-fields     10,000 header fields
#   oversized-head  a head past 64 KiB, sent whole before reading
#   backend-dies    the backend closes after 1000 of 100000 bytes
#   h2-rapid-reset  10,000 HEADERS+RST_STREAM on one HTTP/2 connection
#   paths           unnormalized targets against the /static/ route
#
# The two timeout probes of every proxy run at once, beside the short
# probes; then each slow probe runs alone, against a freshly started proxy
# (its RSS growth is from that start). Writes bench/hostile/RESULTS.md: a
# table attack x proxy and the raw result lines.
#
#   bench/hostile/run.sh            # about 10 minutes
#   QUICK=1 bench/hostile/run.sh    # about 2 minutes: short waits, 100 connections, 2,000 streams
#
# Environment (defaults in brackets):
#   QUICK [0]   PEERS [quill haproxy nginx]   OUT [bench/hostile/RESULTS.md]
#   QUILL_BIN   a quill binary to measure instead of building ./cmd/quill
#   REUSE [0]   1: the targets not in PEERS keep their lines from the OUT
#               already there, e.g. to measure a new quill beside the last
#               run's HAProxy and nginx: PEERS=quill REUSE=1 bench/hostile/run.sh
#
# Installs haproxy, nginx-light and openssl with apt-get when missing.
# Listens on 127.0.0.1 only; every process it starts is killed by its PID.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH:/usr/sbin:/sbin"

QUICK=${QUICK:-0}
PEERS=${PEERS:-quill haproxy nginx}
OUT=${OUT:-bench/hostile/RESULTS.md}
REUSE=${REUSE:-0}
if [[ $QUICK == 1 ]]; then
	body_wait=15s send_wait=15s duration=10s conns=100 streams=2000
else
	body_wait=130s send_wait=200s duration=60s conns=500 streams=10000
fi

# shellcheck disable=SC2034 # bench_install reads it by name
declare -A pkg=([haproxy]=haproxy [nginx]=nginx-light [openssl]=openssl)
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_install pkg
# 500 attacking connections are 500 descriptors in the client and two per
# connection in a proxy, and as many again in the backend.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < 4096)); then
	echo "run.sh: ulimit -n is $(ulimit -n); 4096 descriptors are needed" >&2
	exit 1
fi
nofile=$(($(ulimit -n) - 100))

bench_workdir quill-bench-hostile
read -r -a targets <<<"$PEERS"

# end_pids PID... kills those processes, waits for them and drops them from
# the list that the exit trap kills.
end_pids() {
	local p keep=()
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		if [[ " $* " != *" $p "* ]]; then keep+=("$p"); fi
	done
	pids=("${keep[@]}")
}

echo "== building"
if [[ -n ${QUILL_BIN:-} ]]; then
	cp "$QUILL_BIN" "$work/quill"
else
	go build -o "$work/quill" ./cmd/quill
fi
go build -o "$work/attack" ./bench/hostile/attack
if [[ -n ${QUILL_BIN:-} ]]; then
	quill_rev="binary $QUILL_BIN"
else
	quill_rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n $(git status --porcelain -- . ':!bench/hostile/RESULTS.md' 2>/dev/null) ]]; then quill_rev+="+changes"; fi
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj /CN=hostile.test -addext "subjectAltName=DNS:hostile.test,IP:127.0.0.1" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" >"$work/combined.pem"

declare -A port pid app static control accesslog
port_base=19400
alloc_port() {
	local p
	p=$(free_port "$port_base")
	port_base=$((p + 1))
	port[$1]=$p
}

for t in "${targets[@]}"; do
	mkdir -p "$work/backend-$t"
	"$work/attack" -backend -listen app=127.0.0.1:0,static=127.0.0.1:0 -control 127.0.0.1:0 \
		-addr-dir "$work/backend-$t" >"$work/backend-$t.log" 2>&1 &
	pids+=($!)
done
for t in "${targets[@]}"; do
	for n in app static control; do
		for ((i = 0; i < 100; i++)); do [[ -s $work/backend-$t/$n.addr ]] && break; sleep 0.1; done
		[[ -s $work/backend-$t/$n.addr ]] || { echo "run.sh: backend of $t did not start" >&2; cat "$work/backend-$t.log" >&2; exit 1; }
	done
	app[$t]=$(cat "$work/backend-$t/app.addr")
	static[$t]=$(cat "$work/backend-$t/static.addr")
	control[$t]=$(cat "$work/backend-$t/control.addr")
	alloc_port "$t,plain"
	alloc_port "$t,tls"
done

# The configurations: each proxy's defaults but for the listeners, the two
# routes, the access log and the timeouts, which are 60 s where they exist
# (quill's defaults) and 10 s for the request head (quill's
# read_header_timeout). Nothing here names a timeout quill may not have:
# the quill under test runs with its own defaults.
write_quill() {
	accesslog[quill]=$work/quill-access.log
	cat >"$work/quill.toml" <<EOF
[global]
shutdown_timeout = "2s"

[access_log]
path = "${accesslog[quill]}"
format = "common"

[vips.web]
listen = ["127.0.0.1:${port[quill,plain]}"]
  [[vips.web.routes]]
  path = "/static/"
  pool = "static"
  [[vips.web.routes]]
  pool = "app"

[vips.secure]
listen = ["127.0.0.1:${port[quill,tls]}"]
  [vips.secure.tls]
  certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
  [[vips.secure.routes]]
  path = "/static/"
  pool = "static"
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ address = "${app[quill]}" }]

[pools.static]
servers = [{ address = "${static[quill]}" }]
EOF
	"$work/quill" check -c "$work/quill.toml" >/dev/null
}

write_haproxy() {
	accesslog[haproxy]=$work/haproxy-access.log
	cat >"$work/haproxy.cfg" <<EOF
global
	maxconn $(((nofile - 500) / 2))
	nbthread 2

defaults
	mode http
	log stdout format raw local0
	option httplog clf
	option http-keep-alive
	option forwardfor
	timeout connect 5s
	timeout http-request 10s
	timeout http-keep-alive 60s
	timeout client 60s
	timeout server 60s

frontend web
	bind 127.0.0.1:${port[haproxy,plain]}
	bind 127.0.0.1:${port[haproxy,tls]} ssl crt $work/combined.pem alpn h2,http/1.1
	use_backend static if { path_beg /static/ }
	default_backend app

backend app
	server app ${app[haproxy]}

backend static
	server static ${static[haproxy]}
EOF
	haproxy -c -f "$work/haproxy.cfg" >/dev/null
}

# nginx: client_max_body_size 0 because quill has no body limit (nginx's
# default, 1m, would refuse the slow POSTs' 10 MB at once); request and
# answer buffering are nginx's defaults (on), with its temporary files in
# the work directory.
write_nginx() {
	accesslog[nginx]=$work/nginx-access.log
	mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
	local user=""
	# Workers running as nobody could not reach the work directory.
	if [[ $(id -u) == 0 ]]; then user="user root;"; fi
	cat >"$work/nginx.conf" <<EOF
$user
worker_processes 2;
worker_rlimit_nofile $nofile;
pid $work/nginx/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections $((nofile / 2)); }
http {
	log_format clf '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent';
	access_log ${accesslog[nginx]} clf;
	client_header_timeout 10s;
	client_body_timeout 60s;
	send_timeout 60s;
	keepalive_timeout 60s;
	client_max_body_size 0;
	client_body_temp_path $work/nginx/tmp/body;
	proxy_temp_path $work/nginx/tmp/proxy;
	proxy_connect_timeout 5s;
	proxy_send_timeout 60s;
	proxy_read_timeout 60s;
	proxy_http_version 1.1;
	proxy_set_header Connection "";
	proxy_set_header Host \$http_host;
	proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
	upstream app { server ${app[nginx]}; keepalive 64; }
	upstream static { server ${static[nginx]}; keepalive 64; }
	server {
		listen 127.0.0.1:${port[nginx,plain]};
		listen 127.0.0.1:${port[nginx,tls]} ssl http2;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		location /static/ { proxy_pass http://static; }
		location / { proxy_pass http://app; }
	}
}
EOF
	nginx -t -q -p "$work/nginx" -e "$work/nginx.err" -c "$work/nginx.conf" 2>/dev/null ||
		nginx -t -p "$work/nginx" -e "$work/nginx.err" -c "$work/nginx.conf"
}

start_target() {
	local t=$1 p
	case $t in
	quill)
		"$work/quill" run -c "$work/quill.toml" >>"$work/quill.log" 2>&1 &
		p=$!
		;;
	haproxy)
		# The access log goes to stdout (log stdout), so stdout is its file.
		haproxy -f "$work/haproxy.cfg" -db >>"${accesslog[haproxy]}" 2>>"$work/haproxy.err" &
		p=$!
		;;
	nginx)
		nginx -p "$work/nginx" -e "$work/nginx.err" -c "$work/nginx.conf" -g 'daemon off;' >>"$work/nginx.out" 2>&1 &
		p=$!
		;;
	*)
		echo "run.sh: no target $t" >&2
		exit 1
		;;
	esac
	pids+=("$p")
	pid[$t]=$p
	wait_port "${port[$t,plain]}" "$p" "$work/$t"*
	wait_port "${port[$t,tls]}" "$p" "$work/$t"*
}

stop_target() {
	if [[ -n ${pid[$1]:-} ]]; then end_pids "${pid[$1]}"; fi
	unset "pid[$1]"
}

# attack T PROBES [ARGS]: runs probes against T, its result lines to
# $work/raw-T-PROBES.txt (a probe that fails still leaves a line).
attack() {
	local t=$1 probes=$2
	shift 2
	"$work/attack" -probe "$probes" -name "$t" -target "127.0.0.1:${port[$t,plain]}" \
		-tls-target "127.0.0.1:${port[$t,tls]}" -control "${control[$t]}" -pid "${pid[$t]}" \
		-access-log "${accesslog[$t]}" -duration "$duration" -conns "$conns" -streams "$streams" "$@" \
		>"$work/raw-$t-${probes//,/+}.txt" 2>>"$work/attack-$t.err" || echo "run.sh: $probes against $t failed (see the raw lines)" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for t in "${targets[@]}"; do "write_$t"; done
for t in "${targets[@]}"; do start_target "$t"; done

echo "== the timeout probes of every proxy at once (${body_wait} and ${send_wait} at most), the short probes beside them"
waits=()
for t in "${targets[@]}"; do
	attack "$t" body-timeout -wait "$body_wait" &
	waits+=($!)
	attack "$t" send-timeout -wait "$send_wait" &
	waits+=($!)
done
short=bad-chunk,many-fields,paths,backend-dies,oversized-head,h2-rapid-reset
for t in "${targets[@]}"; do
	echo "   $t: $short"
	attack "$t" "$short"
done
wait "${waits[@]}"

for p in slow-post slow-readers; do
	for t in "${targets[@]}"; do
		echo "== $p against $t ($conns connections, $duration), freshly started"
		stop_target "$t"
		start_target "$t"
		sleep 1
		attack "$t" "$p"
	done
done
for t in "${targets[@]}"; do stop_target "$t"; done

raw=$work/raw.txt
: >"$raw"
for p in body-timeout send-timeout "${short//,/+}" slow-post slow-readers; do
	for t in "${targets[@]}"; do
		if [[ -f $work/raw-$t-$p.txt ]]; then cat "$work/raw-$t-$p.txt" >>"$raw"; fi
	done
done

reused=""
if [[ $REUSE == 1 && -f $OUT ]]; then
	declare -A kept=()
	while IFS= read -r line; do
		t=${line#* target=}
		t=${t%% *}
		if [[ " ${targets[*]} " != *" $t "* ]]; then
			echo "$line" >>"$raw"
			kept[$t]=1
		fi
	done < <(grep '^probe=' "$OUT")
	if ((${#kept[@]})); then
		names=${!kept[*]}
		names=${names//haproxy/HAProxy}
		reused="The columns of ${names// / and } are from the earlier run of $(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5} UTC' "$OUT" | head -n1) (REUSE=1)."
	fi
fi

{
	echo "# quill, HAProxy and nginx under hostile clients"
	echo
	echo "\`bench/hostile/run.sh\`$([[ $QUICK == 1 ]] && echo " with QUICK=1 (short waits: not the timeouts' figures)"), $(date -u '+%Y-%m-%d %H:%M UTC'),"
	echo "$(nproc) cores, $(uname -r); quill $quill_rev, $(haproxy -v | head -n1 | cut -d' ' -f1-3),"
	echo "$(nginx -v 2>&1 | sed 's/.*: //'). Attacks: timeouts waited ${body_wait} / ${send_wait};"
	echo "slow attacks $conns connections for $duration; rapid reset $streams streams."
	if [[ -n $reused ]]; then echo "$reused"; fi
	echo "Load average before and after: $load_before; $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	"$work/attack" -report "$raw"
	echo
	cat <<'EOF'
How to read it: "held" is the most requests of the attack a backend handler
held at once (a request held is a backend connection taken); RSS growth is
the proxy's peak over its RSS before the attack, all processes (nginx's
master and workers); a path cell names the pool that got the request and
the target as the backend saw it. Set-up: each proxy has a plain and a TLS
listener (HTTP/2 by ALPN), a `/static/` route and a catch-all, a CLF access
log, 60 s timeouts where it has them (HAProxy `timeout client`/`server`,
nginx `client_body_timeout`, `send_timeout`, `proxy_read_timeout`; quill
its defaults) and 10 s for the request head; HAProxy `nbthread 2`, nginx
`worker_processes 2` with `client_max_body_size 0` (quill has no body limit)
and its default buffering of request bodies and answers. Everything else is
each proxy's default.

Raw result lines (`bench/hostile/attack`):

```
EOF
	cat "$raw"
	echo '```'
} >"$work/results.md"
echo
cat "$work/results.md"
cp "$work/results.md" "$OUT"
echo
echo "written to $OUT; the run took $((SECONDS / 60)) min $((SECONDS % 60)) s"
