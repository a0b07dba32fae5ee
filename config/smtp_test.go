package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLoadSMTPAndTCPDefaults checks the values Load gives SMTP and TCP
// blocks that leave them unset, and that relative files are resolved.
func TestLoadSMTPAndTCPDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := os.ReadFile("testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"ca.pem": ca, "pass": []byte("file-pass-9876\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "tocsin.yml")
	yaml := `components: [{id: mail, name: Mail}]
checks:
  - {name: plain, component: mail, type: smtp, smtp: {address: "mx:25"}}
  - name: submission
    component: mail
    type: smtp
    smtp:
      address: mx:587
      tls: starttls
      tls_config: {ca_file: ca.pem}
      auth: {username: probe, password_file: pass}
  - {name: port, component: mail, type: tcp, tcp: {address: "mx:25"}}
  - {name: tls-port, component: mail, type: tcp, tcp: {address: "mx:465", tls: true, tls_config: {ca_file: ca.pem}}}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, LoadOptions{File: path})
	const warn = 336 * time.Hour
	caFile := filepath.Join(dir, "ca.pem")

	plain := cfg.Checks[0].SMTP
	if plain.TLS != "none" || plain.Helo != "tocsin.localhost" || plain.TLSConfig != (TLS{}) {
		t.Errorf("plain smtp = %+v, want tls none, helo tocsin.localhost, no tls_config", *plain)
	}
	sub := cfg.Checks[1].SMTP
	if sub.TLSConfig != (TLS{CAFile: caFile, CertExpiryWarning: warn}) {
		t.Errorf("submission tls_config = %+v", sub.TLSConfig)
	}
	if sub.Auth.Password.Reveal() != "file-pass-9876" || sub.Auth.PasswordFile != filepath.Join(dir, "pass") {
		t.Errorf("submission auth = %+v", *sub.Auth)
	}
	if !slices.Contains(cfg.Secrets(), "file-pass-9876") {
		t.Errorf("Secrets() = %q lacks the SMTP password", cfg.Secrets())
	}
	if tc := cfg.Checks[2].TCP; tc.TLSConfig != (TLS{}) {
		t.Errorf("plain tcp tls_config = %+v", tc.TLSConfig)
	}
	if tc := cfg.Checks[3].TCP; tc.TLSConfig != (TLS{CAFile: caFile, CertExpiryWarning: warn}) {
		t.Errorf("tls tcp tls_config = %+v", tc.TLSConfig)
	}
}

// TestSMTPPasswordNotInErrors loads SMTP checks that are wrong next to the
// password, from the file, a password file and the environment, and checks
// no error shows it.
func TestSMTPPasswordNotInErrors(t *testing.T) {
	t.Parallel()
	const canary = "Smtp-Canary-5e1d"
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(smtp string) string {
		return "components: [{id: mail, name: Mail}]\nchecks:\n  - name: mx\n    component: mail\n    type: smtp\n    smtp: " + smtp + "\n"
	}
	tests := map[string]string{
		"inline":                 check(`{address: "mx", tls: starttls, auth: {username: "", password: "` + canary + `", mechanism: x}}`),
		"from env":               check(`{address: "mx:0", auth: {username: probe, password: "${SMTP_PASS}"}, send: {from: x}}`),
		"from file":              check(`{address: "mx:99999", tls: bogus, auth: {username: probe, password_file: "` + passFile + `"}}`),
		"file and inline":        check(`{address: "mx:25", auth: {username: probe, password: "` + canary + `", password_file: "` + passFile + `"}}`),
		"on the wrong type":      strings.Replace(check(`{address: "mx:25", auth: {username: probe, password: "`+canary+`"}}`), "type: smtp", "type: tcp", 1),
		"tls_config without tls": check(`{address: "mx:25", tls_config: {server_name: x}, auth: {username: probe, password: "` + canary + `"}}`),
	}
	for name, yaml := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: writeConfig(t, yaml), Env: []string{"SMTP_PASS=" + canary}})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			t.Log(err)
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
