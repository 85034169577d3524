#!/bin/sh
# Captures the PROXY protocol headers that HAProxy sends to a server, as
# the test vectors of haproxy.txt. Run from this directory:
#   sh capture.sh > haproxy.txt
# Needs haproxy and python3. A recorder listens on 127.0.0.1:18199 and
# [::1]:18199 and prints, in hex, the first bytes each connection sends;
# HAProxy in TCP mode relays to it with send-proxy, send-proxy-v2, and
# send-proxy-v2 with a CRC32C and a unique-id TLV; its health check with
# check-send-proxy sends the v2 LOCAL command (and no request). The clients connect from
# 127.0.0.5 and ::1, so the source addresses are known. The health checks
# go to a second recorder on port 18198.
set -eu
dir=$(mktemp -d)
trap 'kill $rec $hap 2>/dev/null; rm -rf "$dir"' EXIT

cat > "$dir/rec.py" <<'PY'
import socket, sys, threading
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr); s.listen(16)
    while True:
        c, _ = s.accept()
        c.settimeout(1)
        data = b""
        try:
            while b"HTTP/1.0\r\n\r\n" not in data and len(data) < 4096:
                b = c.recv(4096)
                if not b: break
                data += b
        except OSError:
            pass
        c.close()
        print(data.hex(), flush=True)
port = int(sys.argv[1])
threading.Thread(target=serve, args=(socket.AF_INET6, ("::1", port)), daemon=True).start()
serve(socket.AF_INET, ("127.0.0.1", port))
PY
python3 "$dir/rec.py" 18199 > "$dir/out" &
rec=$!
python3 "$dir/rec.py" 18198 > "$dir/checks" &
rec="$rec $!"

cat > "$dir/haproxy.cfg" <<'CFG'
global
  log stderr local0 err
defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
listen v1
  bind 127.0.0.1:18101
  server s 127.0.0.1:18199 send-proxy
listen v2
  bind 127.0.0.1:18102
  server s 127.0.0.1:18199 send-proxy-v2
listen v1six
  bind [::1]:18103
  server s [::1]:18199 send-proxy
listen v2six
  bind [::1]:18104
  server s [::1]:18199 send-proxy-v2
listen v2tlv
  bind 127.0.0.1:18105
  unique-id-format abc123
  server s 127.0.0.1:18199 send-proxy-v2 proxy-v2-options crc32c,unique-id
listen v2local
  bind 127.0.0.1:18106
  server s 127.0.0.1:18198 send-proxy-v2 check check-send-proxy inter 300ms
CFG
sleep 2  # python3 may take a while to start
haproxy -q -f "$dir/haproxy.cfg" &
hap=$!
sleep 2  # for the first health checks

line() { sleep 0.3; tail -n 1 "$dir/out"; }
echo "# PROXY protocol headers captured from $(haproxy -v | head -n 1)"
echo "# by capture.sh on $(date -u +%Y-%m-%d). Each vector: name, then the hex of the first"
echo "# bytes the server received: the header, then the client's request."
echo "v2_local_health_check $(head -n 1 "$dir/checks")"
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",18101),source_address=("127.0.0.5",40001)); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.recv(1)' || true
echo "v1_tcp4 $(line)"
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",18102),source_address=("127.0.0.5",40002)); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.recv(1)' || true
echo "v2_tcp4 $(line)"
python3 -c 'import socket,sys; s=socket.create_connection(("::1",18103),source_address=("::1",40003)); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.recv(1)' || true
echo "v1_tcp6 $(line)"
python3 -c 'import socket,sys; s=socket.create_connection(("::1",18104),source_address=("::1",40004)); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.recv(1)' || true
echo "v2_tcp6 $(line)"
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",18105),source_address=("127.0.0.5",40005)); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.recv(1)' || true
echo "v2_tcp4_crc32c_unique_id $(line)"
