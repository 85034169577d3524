package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the TLS tests share: a CA made for each test and the certificates
// it issues, the config of a TLS VIP, and runners of curl and openssl.

// testCA issues the certificates of one test.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	file   string // the CA certificate as PEM, for --cacert and -CAfile
	pool   *x509.CertPool
	serial int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"quill e2e"}, CommonName: "quill e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(2 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, pool: x509.NewCertPool(), serial: 1000}
	ca.pool.AddCert(cert)
	ca.file = filepath.Join(t.TempDir(), "ca.pem")
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// leafSpec describes a server certificate.
type leafSpec struct {
	cn       string   // common name
	ou       string   // organizational unit, to tell versions of one name apart
	dns      []string // DNS SANs; cn when empty
	ips      []net.IP
	notAfter time.Time // default: a year from now
}

// issue makes an ECDSA P-256 leaf and writes it and its key to certFile
// and keyFile, each by an atomic rename as certbot does, and returns it.
func (ca *testCA) issue(t *testing.T, certFile, keyFile string, s leafSpec) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	names := s.dns
	if len(names) == 0 {
		names = []string{s.cn}
	}
	notAfter := s.notAfter
	if notAfter.IsZero() {
		notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	notBefore := time.Now().Add(-time.Hour)
	if notAfter.Before(notBefore) {
		notBefore = notAfter.Add(-30 * 24 * time.Hour)
	}
	subject := pkix.Name{Organization: []string{"quill e2e"}, CommonName: s.cn}
	if s.ou != "" {
		subject.OrganizationalUnit = []string{s.ou}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      subject,
		DNSNames:     names,
		IPAddresses:  s.ips,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// pair issues a certificate into dir as NAME.pem and NAME.key.
func (ca *testCA) pair(t *testing.T, dir, name string, s leafSpec) certPair {
	t.Helper()
	p := certPair{cert: filepath.Join(dir, name+".pem"), key: filepath.Join(dir, name+".key")}
	ca.issue(t, p.cert, p.key, s)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type certPair struct{ cert, key string }

// tlsVIPConfig is a config with the TLS VIP "secure" on addr, serving
// certs by SNI (the first one by default) in front of web. vipExtra is
// added to the VIP's table, tail at the end of the file.
func tlsVIPConfig(addr string, web *backend, vipExtra, tail string, certs ...certPair) string {
	list := make([]string, len(certs))
	for i, c := range certs {
		list[i] = fmt.Sprintf("{ cert = %q, key = %q }", c.cert, c.key)
	}
	return fmt.Sprintf(`[global]
shutdown_timeout = "5s"

[vips.secure]
listen = [%q]
%s
  [vips.secure.tls]
  certificates = [%s]
  [[vips.secure.routes]]
  pool = "app"

[pools.app]
servers = [{ name = %q, address = %q }]
%s`, addr, vipExtra, strings.Join(list, ", "), web.name, web.addr, tail)
}

// trusting is curl's arguments to trust caFile and to find host on
// 127.0.0.1 at the port of each of addrs.
func trusting(caFile, host string, addrs ...string) []string {
	args := []string{"--cacert", caFile}
	for _, a := range addrs {
		args = append(args, "--resolve", host+":"+portOf(a)+":127.0.0.1")
	}
	return args
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// runTool runs a client tool with stdin, bounded in time, and returns what it
// wrote to stdout and stderr.
func runTool(t *testing.T, stdin string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// curlVerbose runs curl -v and returns stdout and the verbose stderr.
func curlVerbose(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, err := runTool(t, "", "curl", append([]string{"-sS", "-v", "--max-time", "20"}, args...)...)
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

// servedSubject asks openssl s_client for the certificate served to
// serverName ("" sends no SNI), checks it against ca, and returns its
// subject as openssl x509 prints it.
func servedSubject(t *testing.T, addr, serverName string, ca *testCA) string {
	t.Helper()
	args := []string{"s_client", "-connect", addr, "-CAfile", ca.file, "-verify_return_error"}
	if serverName == "" {
		args = append(args, "-noservername")
	} else {
		args = append(args, "-servername", serverName)
	}
	out, errOut, err := runTool(t, "", "openssl", args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	subject, errOut, err := runTool(t, out, "openssl", "x509", "-noout", "-subject")
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s\ns_client printed:\n%s", err, errOut, out)
	}
	return strings.TrimSpace(subject)
}

// keepAliveConn is one client connection doing HTTP/1.1 requests in turn.
type keepAliveConn struct {
	*tls.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr, serverName string, roots *x509.CertPool) *keepAliveConn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAliveConn{Conn: c, br: bufio.NewReader(c)}
}

// get sends one request and reads its answer, which must leave the
// connection open.
func (c *keepAliveConn) get(host, path string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		return "", fmt.Errorf("status %d, close %v: %s", resp.StatusCode, resp.Close, body)
	}
	return string(body), nil
}

// servedSerial does a new handshake and returns the leaf's serial number.
func servedSerial(addr, serverName string, roots *x509.CertPool) (*big.Int, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testsslFinding is one entry of testssl's --jsonfile.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}
