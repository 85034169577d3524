# shellcheck shell=bash
# Sourced by bench/proxy/run.sh: the configuration of each proxy and how it is
# started. Every proxy gets the same two backends ($b1, $b2), round-robin,
# X-Forwarded-For, keep-alive to the backends where it has it, and up to four
# listeners on 127.0.0.1:
#   plain   HTTP/1.1
#   tls     HTTPS with the script's self-signed certificate (HTTP/2 by ALPN
#           where the proxy has it)
#   sticky  cookie stickiness
#   log     an access log in a file
# port[T,MODE] holds the port of target T's listener for MODE, has[T,MODE]
# whether T has it; start_target T sets pid[T,MODE] to the process to watch.

# The modes each built-in target has. pen has no cookie stickiness; the
# spikes and EXTRA targets have the plain listener only.
declare -A has
plan_target() {
	local t=$1 m
	case $t in
	quill | haproxy | nginx) for m in plain tls sticky log; do has[$t,$m]=1; done ;;
	pen) for m in plain tls log; do has[$t,$m]=1; done ;;
	*) has[$t,plain]=1 ;;
	esac
	for m in plain tls sticky log; do
		if [[ -n ${has[$t,$m]:-} ]]; then alloc_port "$t,$m"; fi
	done
}

# h2 says which targets speak HTTP/2 on their TLS listener.
h2_capable() { [[ $1 == quill || $1 == haproxy || $1 == nginx ]]; }

write_configs() {
	if [[ -n ${has[quill,plain]:-} ]]; then write_quill; fi
	if [[ -n ${has[haproxy,plain]:-} ]]; then write_haproxy; fi
	if [[ -n ${has[nginx,plain]:-} ]]; then write_nginx; fi
}

write_quill() {
	cat >"$work/quill.toml" <<EOF
[global]
shutdown_timeout = "2s"
secret = "bench-proxy-secret"
max_connections = $max_conns

[log]
level = "warn"

[vips.web]
listen = ["127.0.0.1:${port[quill,plain]}"]
  [[vips.web.routes]]
  pool = "app"

[vips.secure]
listen = ["127.0.0.1:${port[quill,tls]}"]
  [vips.secure.tls]
  certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
  [[vips.secure.routes]]
  pool = "app"

[vips.pinned]
listen = ["127.0.0.1:${port[quill,sticky]}"]
  [[vips.pinned.routes]]
  pool = "pinned"

[vips.logged]
listen = ["127.0.0.1:${port[quill,log]}"]
  [vips.logged.access_log]
  path = "$work/quill-access.log"
  format = "common"
  [[vips.logged.routes]]
  pool = "app"

[pools.app]
balance = "roundrobin"
servers = [{ address = "$b1", name = "b1" }, { address = "$b2", name = "b2" }]

[pools.pinned]
balance = "roundrobin"
servers = [{ address = "$b1", name = "b1" }, { address = "$b2", name = "b2" }]
  [pools.pinned.sticky]
  mode = "cookie"
EOF
}

# HAProxy: http-reuse always, because quill and nginx hand any idle backend
# connection to any request, where "safe" (the default) gives the first
# request of each client connection a backend connection of its own.
write_haproxy() {
	cat >"$work/haproxy.cfg" <<EOF
global
	maxconn $max_conns
	nbthread 2

defaults
	mode http
	option http-keep-alive
	option forwardfor
	http-reuse always
	timeout connect 5s
	timeout client 60s
	timeout server 60s

frontend plain
	bind 127.0.0.1:${port[haproxy,plain]}
	http-request set-header X-Forwarded-Proto http
	http-request set-header X-Forwarded-Host %[req.hdr(host)]
	default_backend app

frontend secure
	bind 127.0.0.1:${port[haproxy,tls]} ssl crt $work/combined.pem alpn h2,http/1.1
	http-request set-header X-Forwarded-Proto https
	http-request set-header X-Forwarded-Host %[req.hdr(host)]
	default_backend app

frontend pinned
	bind 127.0.0.1:${port[haproxy,sticky]}
	http-request set-header X-Forwarded-Proto http
	http-request set-header X-Forwarded-Host %[req.hdr(host)]
	default_backend pinned

frontend logged
	bind 127.0.0.1:${port[haproxy,log]}
	log stdout format raw local0
	option httplog clf
	http-request set-header X-Forwarded-Proto http
	http-request set-header X-Forwarded-Host %[req.hdr(host)]
	default_backend app

backend app
	balance roundrobin
	server b1 $b1
	server b2 $b2

backend pinned
	balance roundrobin
	cookie SRV insert indirect nocache
	server b1 $b1 cookie b1
	server b2 $b2 cookie b2
EOF
}

# nginx: requests are streamed to the backend (proxy_request_buffering off)
# and answers never spill to temporary files, as quill and HAProxy do;
# keepalive_requests is raised so that neither side closes a keep-alive
# connection after 1,000 requests, which quill and HAProxy never do. The free
# nginx has no cookie stickiness: "pinned" hashes a cookie the client brings
# (QSTICK) and sets none.
write_nginx() {
	mkdir -p "$work/nginx/logs"
	cat >"$work/nginx.conf" <<EOF
worker_processes 2;
worker_rlimit_nofile $((max_conns * 2 + 100));
pid $work/nginx/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections $max_conns; }
http {
	access_log off;
	log_format clf '\$remote_addr - \$remote_user [\$time_local] "\$request" \$status \$body_bytes_sent';
	keepalive_requests 1000000;
	client_max_body_size 2m;
	proxy_http_version 1.1;
	proxy_request_buffering off;
	proxy_max_temp_file_size 0;
	proxy_set_header Connection "";
	proxy_set_header Host \$http_host;
	proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
	proxy_set_header X-Forwarded-Proto \$scheme;
	proxy_set_header X-Forwarded-Host \$http_host;
	upstream app {
		server $b1;
		server $b2;
		keepalive 512;
		keepalive_requests 1000000;
	}
	upstream pinned {
		hash \$cookie_QSTICK consistent;
		server $b1;
		server $b2;
		keepalive 512;
		keepalive_requests 1000000;
	}
	server {
		listen 127.0.0.1:${port[nginx,plain]};
		location / { proxy_pass http://app; }
	}
	server {
		listen 127.0.0.1:${port[nginx,tls]} ssl http2;
		ssl_certificate $work/cert.pem;
		ssl_certificate_key $work/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / { proxy_pass http://app; }
	}
	server {
		listen 127.0.0.1:${port[nginx,sticky]};
		location / { proxy_pass http://pinned; }
	}
	server {
		listen 127.0.0.1:${port[nginx,log]};
		access_log $work/nginx-access.log clf buffer=64k flush=1s;
		location / { proxy_pass http://app; }
	}
}
EOF
}

# start_target T starts T's process(es) and waits for its listeners.
start_target() {
	local t=$1 p m
	case $t in
	quill)
		"$work/quill" run -c "$work/quill.toml" >"$work/quill.log" 2>&1 &
		p=$!
		;;
	haproxy)
		# The access log goes to stdout (log stdout), so stdout is its file.
		haproxy -f "$work/haproxy.cfg" -db >>"$work/haproxy-access.log" 2>>"$work/haproxy.err" &
		p=$!
		;;
	nginx)
		nginx -p "$work/nginx" -e "$work/nginx.err" -c "$work/nginx.conf" -g 'daemon off;' >>"$work/nginx.out" 2>&1 &
		p=$!
		;;
	pen)
		# One pen process per listener: pen serves one port. -r: round-robin
		# without client-IP tracking; -H: X-Forwarded-For (and -Proto).
		for m in plain tls log; do
			[[ -n ${has[pen,$m]:-} ]] || continue
			local args=(-f -r -H -x "$max_conns")
			case $m in
			tls) args+=(-E "$work/combined.pem") ;;
			log) args+=(-l "$work/pen-access.log") ;;
			esac
			pen "${args[@]}" "127.0.0.1:${port[pen,$m]}" "$b1" "$b2" >>"$work/pen-$m.err" 2>&1 &
			pid[pen,$m]=$!
			pids+=("$!")
		done
		for m in plain tls log; do
			if [[ -n ${has[pen,$m]:-} ]]; then wait_port "${port[pen,$m]}" "${pid[pen,$m]}" "$work/pen"*; fi
		done
		return
		;;
	*)
		local cmd=${extra_cmd[$t]}
		cmd=${cmd//\{PORT\}/${port[$t,plain]}}
		cmd=${cmd//\{BACKENDS\}/$b1 $b2}
		cmd=${cmd//\{BACKEND1\}/$b1}
		cmd=${cmd//\{BACKEND2\}/$b2}
		bash -c "exec $cmd" >>"$work/$t.log" 2>&1 &
		p=$!
		;;
	esac
	pids+=("$p")
	for m in plain tls sticky log; do
		[[ -n ${has[$t,$m]:-} ]] || continue
		pid[$t,$m]=$p
	done
	for m in plain tls sticky log; do
		if [[ -n ${has[$t,$m]:-} ]]; then wait_port "${port[$t,$m]}" "$p" "$work/$t"*; fi
	done
}

# stop_target T ends T's processes (only those) and forgets their PIDs.
stop_target() {
	local t=$1 m gone=()
	for m in plain tls sticky log; do
		if [[ -n ${pid[$t,$m]:-} && " ${gone[*]} " != *" ${pid[$t,$m]} "* ]]; then gone+=("${pid[$t,$m]}"); fi
		unset "pid[$t,$m]"
	done
	if ((${#gone[@]})); then end_pids "${gone[@]}"; fi
}

# peer_notes says how each peer was set up, for the results.
peer_notes() {
	cat <<'EOF'
- **quill**: `balance = "roundrobin"`, `forwarded_for = "append"` (default), keep-alive to the
  backends (up to 1024 idle per server); sticky VIP: `sticky.mode = "cookie"`; logged VIP: CLF
  file (lines held 1 s and written in time order by one writer).
- **HAProxy**: `nbthread 2`, `balance roundrobin`, `option forwardfor`, `http-reuse always`
  (quill and nginx give any idle backend connection to any request; HAProxy's default `safe`
  gives each client connection's first request a backend connection of its own); sticky:
  `cookie SRV insert indirect nocache`; logged: `option httplog clf` to `log stdout`, a file.
- **nginx**: `worker_processes 2`, `upstream keepalive 512`, `keepalive_requests` raised on
  both sides, `proxy_request_buffering off`, `proxy_max_temp_file_size 0`; sticky: no cookie
  stickiness in the free nginx, so `hash $cookie_QSTICK consistent` on a cookie the clients
  bring (nginx sets none; the script picks two values that land on different backends);
  logged: `access_log` CLF, `buffer=64k flush=1s`. CPU counts the master and its workers.
- **pen** (`-r -H -x MAXCONN`, one process per port): a TCP relay, not an HTTP proxy. Each client
  connection gets its own backend connection, opened when the client connects and closed with
  it, so there is no pool and balancing is per client connection, not per request; with
  keep-alive clients that is one backend connection per client connection, and a new
  connection per request costs pen a backend connect as well. `-H` adds X-Forwarded-For only
  when absent and only to a read that starts with GET, POST or HEAD. HTTPS by `-E` (OpenSSL,
  no ALPN, so no HTTP/2). No cookie stickiness (its stickiness is by client IP, and every
  client here is 127.0.0.1): n/a. `-l` logs one line per read from the client (a 64 KiB POST
  makes several), in pen's own format, not CLF. pen sets up its table of `-x` connections at
  start, so its idle connections add little to the RSS it already has.
- **Spikes and EXTRA targets**: plain HTTP only; nothing but forwarding (no TLS, HTTP/2,
  stickiness or log). The fasthttp spike removes no hop-by-hop header: a client's
  `Connection: close` goes on to the backend, and fasthttp's HostClient closes a backend
  connection after a request that asked for it, so in *close* the spike also connects to a
  backend for every request.
EOF
}
