#!/usr/bin/env bash
# The full testssl scan of a quill TLS VIP, for TESTSSL.md. The e2e test
# TestTLSScan runs only the protocol and vulnerability checks, which take
# about 25 s; the whole scan (cipher lists, server defaults, HTTP headers,
# client simulations) takes over a minute, too long for the test suite.
#
#   bench/tls/testssl.sh            # prints the scan, then every finding above OK/INFO
#
# The VIP serves an ECDSA P-256 certificate of a CA made here, which the
# scan is told to trust (--add-ca), and sends HSTS, as a production VIP
# would; what testssl says about the certificate itself (no OCSP, no CRL,
# no CAA) is about this test certificate, not about quill.
# Wants go, openssl, testssl (Debian package testssl.sh) and jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"

for tool in go openssl testssl jq; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done

. bench/lib.sh
bench_workdir quill-testssl

go build -o "$work/quill" ./cmd/quill
go build -o "$work/testbackend" ./e2e/testbackend

# A CA and a leaf for www.quill.test, valid for a year.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 730 \
	-subj "/O=quill bench/CN=quill bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/O=quill bench/CN=www.quill.test" -keyout "$work/key.pem" -out "$work/leaf.csr" 2>/dev/null
printf '%s\n' "subjectAltName=DNS:www.quill.test" "keyUsage=critical,digitalSignature" \
	"extendedKeyUsage=serverAuth" "basicConstraints=critical,CA:FALSE" \
	"crlDistributionPoints=URI:http://ca.quill.test/ca.crl" >"$work/leaf.ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
	-days 365 -extfile "$work/leaf.ext" -out "$work/cert.pem" 2>/dev/null

"$work/testbackend" -name web -listen 127.0.0.1:0 -addr-file "$work/backend.addr" >"$work/backend.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do [[ -s $work/backend.addr ]] && break; sleep 0.1; done
port=$(free_port 19443)
cat >"$work/quill.toml" <<EOF
[log]
level = "warn"

[vips.www]
listen = ["127.0.0.1:$port"]
hsts = "max-age=31536000"
  [vips.www.tls]
  certificates = [{ cert = "$work/cert.pem", key = "$work/key.pem" }]
  [[vips.www.routes]]
  pool = "app"

[pools.app]
servers = [{ address = "$(cat "$work/backend.addr")" }]
EOF
"$work/quill" run -c "$work/quill.toml" >"$work/quill.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

echo "testssl $(testssl --version 2>/dev/null | sed -n 's/.*testssl *\([0-9][^ ]*\).*/\1/p' | head -1) against quill $(git rev-parse --short HEAD 2>/dev/null || echo unknown) on $(date -u '+%Y-%m-%d')"
began=$SECONDS
testssl --quiet --warnings off --nodns none --color 0 --add-ca "$work/ca.pem" \
	--jsonfile "$work/testssl.json" --ip 127.0.0.1 "www.quill.test:$port" || true
echo "scan took $((SECONDS - began)) s"
echo
echo "== findings above OK/INFO (severity id: finding)"
jq -r '.[] | select(.severity != "OK" and .severity != "INFO") | "\(.severity) \(.id): \(.finding)"' "$work/testssl.json"
