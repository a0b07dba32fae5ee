package probetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a self-signed certificate that can also serve as its own CA.
type Cert struct {
	Cert     tls.Certificate
	PEMFile  string // the certificate in PEM, for ca_file and cert_file
	KeyFile  string // its key in PEM, for key_file
	NotAfter time.Time
}

// NewCert makes a self-signed certificate valid from notBefore to
// notAfter for 127.0.0.1 and the given names.
func NewCert(t testing.TB, notBefore, notAfter time.Time, names ...string) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "tocsin test"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return Cert{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, PEMFile: file, KeyFile: keyFile,
		NotAfter: notAfter.UTC().Truncate(time.Second)}
}

// ServerConfig is a server's TLS config that presents c.
func (c Cert) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Cert}}
}
