package mtatest

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"text/template"
)

// eximConfig is the template of the whole exim configuration of one test MTA. It is written
// with -C, so nothing of Debian's /etc/exim4 is used.
//
// exim_user and exim_group are the uid and gid running the tests. As root,
// exim trusts a -C configuration owned by root and keeps its privileges, and
// running as root everywhere means every file here is readable without
// changing owners or /etc/exim4/trusted_configs. As another user, exim drops
// its setuid privilege for an untrusted -C file and runs entirely as that
// user, which works the same way, except that it logs to stderr.
//
// Nothing looks anything up: no reverse DNS (host_lookup), no ident
// (rfc1413_hosts), no HELO checks, no sender verification. The only router
// discards mail for tocsin.test (Debian's exim never delivers to a file as
// root), so nothing is ever sent anywhere; Received counts the "<=" lines
// exim writes to its mainlog before it answers 250 to DATA.
//
// AUTH is advertised and accepted only over TLS (server_advertise_condition),
// after STARTTLS on the plain port or at once on the SMTPS port.
const eximConfig = `# Written by tocsin's internal/mtatest for one test.
primary_hostname = [[.ServerName]]
qualify_domain = [[.Domain]]
exim_path = [[.Binary]]
exim_user = [[.UID]]
exim_group = [[.GID]]

local_interfaces = <; 127.0.0.1.[[.Port]] ; 127.0.0.1.[[.TLSPort]]
tls_on_connect_ports = [[.TLSPort]]
disable_ipv6 = true
# Fail at once when a port is taken; Start picks other ports.
daemon_startup_retries = 0

spool_directory = [[.Dir]]/spool
log_file_path = [[.Dir]]/log/%slog
message_logs = false
keep_environment =
log_selector = +smtp_connection +smtp_incomplete_transaction +smtp_protocol_error +smtp_syntax_error +tls_peerdn

host_lookup =
rfc1413_hosts =
helo_lookup_domains =

tls_advertise_hosts = *
tls_certificate = [[.CertFile]]
tls_privatekey = [[.KeyFile]]

acl_smtp_rcpt = acl_check_rcpt

begin acl

acl_check_rcpt:
  deny    message    = no such user here
          recipients = [[.Rejected]]
  accept  domains    = [[.Domain]]
  deny    message    = relay not permitted

begin routers

sink:
  driver = redirect
  domains = [[.Domain]]
  data = :blackhole:

begin transports

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if and{{eq{$auth2}{[[.Username]]}}{eq{$auth3}{[[.Password]]}}}}
  server_set_id = $auth2
  server_advertise_condition = ${if def:tls_in_cipher}

login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = ${if and{{eq{$auth1}{[[.Username]]}}{eq{$auth2}{[[.Password]]}}}}
  server_set_id = $auth1
  server_advertise_condition = ${if def:tls_in_cipher}
`

// configData fills eximConfig.
type configData struct {
	ServerName, Domain, Binary string
	UID, GID                   int
	Port, TLSPort              int
	Dir, CertFile, KeyFile     string
	Rejected                   string
	Username, Password         string
}

// writeConfig renders eximConfig to path. exim wants its -C file owned by
// us and writable by nobody else.
func writeConfig(path string, d configData) error {
	// "[[ ]]" as delimiters leave exim's own braces alone.
	tmpl, err := template.New("exim.conf").Delims("[[", "]]").Parse(eximConfig)
	if err != nil {
		return fmt.Errorf("parse exim config template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return fmt.Errorf("render exim config: %w", err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o600)
}

// checkPath reports whether p can go into the exim configuration as it is:
// exim expands '$' and '\' in paths, splits log_file_path on ':', and
// local_interfaces on ';'.
func checkPath(p string) error {
	if i := strings.IndexFunc(p, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`$\:;"'`, r)
	}); i >= 0 {
		return fmt.Errorf("path %q has %q, which exim's configuration would misread; "+
			"use a test name and $TMPDIR without it", p, p[i])
	}
	return nil
}
