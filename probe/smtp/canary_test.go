package smtp

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/internal/probetest"
	"github.com/tocsin/tocsin/probe"
)

// canaryPassword must never show in a result, whatever the server does.
const canaryPassword = "Canary-Pw-7f3a9e1"

// canaryForms are the password and the encodings it travels in.
func canaryForms(user string) []string {
	enc := base64.StdEncoding
	return []string{
		canaryPassword,
		canaryPassword[:4], // what a message cut short might keep of it
		enc.EncodeToString([]byte(canaryPassword)),
		enc.EncodeToString([]byte("\x00" + user + "\x00" + canaryPassword)),
	}
}

// echo answers every line starting with prefix by quoting it back, raw and
// base64-decoded: a server that leaks what it was sent.
func echo(prefix string, code int) func(string) string {
	return func(cmd string) string {
		if !strings.HasPrefix(cmd, prefix) {
			return ""
		}
		last := cmd[strings.LastIndex(cmd, " ")+1:]
		dec, _ := base64.StdEncoding.DecodeString(last)
		return fmt.Sprintf("%d 5.7.8 rejected %q, that is %q\r\n", code, cmd,
			strings.ReplaceAll(string(dec), "\x00", " "))
	}
}

// TestSMTPPasswordCanary runs the probe into every failure it can meet with
// a canary password and checks the canary shows nowhere in the result.
func TestSMTPPasswordCanary(t *testing.T) {
	t.Parallel()
	valid := probetest.NewCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	loginPass := base64.StdEncoding.EncodeToString([]byte(canaryPassword))
	tests := []struct {
		name   string
		srv    fakeSMTP
		mech   string
		tls    string
		addr   string // instead of the fake server
		reason probe.Reason
	}{
		{name: "AUTH PLAIN echoed", srv: fakeSMTP{ehlo: "AUTH PLAIN", on: echo("AUTH", 535)}, reason: probe.ReasonAuth},
		{name: "AUTH LOGIN echoed", srv: fakeSMTP{ehlo: "AUTH LOGIN", on: echo(loginPass, 535)}, mech: "login", reason: probe.ReasonAuth},
		{name: "echoed as garbage", srv: fakeSMTP{ehlo: "AUTH PLAIN", on: func(cmd string) string {
			if strings.HasPrefix(cmd, "AUTH") {
				return "oops " + cmd + "\r\n"
			}
			return ""
		}}, reason: probe.ReasonProtocol},
		{name: "echoed across the clip", srv: fakeSMTP{ehlo: "AUTH PLAIN", on: func(cmd string) string {
			if strings.HasPrefix(cmd, "AUTH") {
				// The password straddles MaxMessageLen in the message.
				return "oops " + strings.Repeat("x", probe.MaxMessageLen-len("AUTH PLAIN: short response: oops ")-5) +
					canaryPassword + "\r\n"
			}
			return ""
		}}, reason: probe.ReasonProtocol},
		{name: "echoed in a 4xx", srv: fakeSMTP{ehlo: "AUTH PLAIN", on: echo("AUTH", 454)}, reason: probe.ReasonAuth},
		{name: "echoed in the greeting", srv: fakeSMTP{greeting: "421 " + canaryPassword + " " + loginPass + "\r\n"},
			reason: probe.ReasonProtocol},
		{name: "echoed at MAIL", srv: fakeSMTP{ehlo: "AUTH PLAIN", on: func(cmd string) string {
			if strings.HasPrefix(cmd, "MAIL") {
				return "550 5.7.1 not you, " + canaryPassword + "\r\n"
			}
			return ""
		}}, reason: probe.ReasonProtocol},
		{name: "stall in AUTH", srv: fakeSMTP{ehlo: "AUTH PLAIN", on: func(cmd string) string {
			if strings.HasPrefix(cmd, "AUTH") {
				time.Sleep(400 * time.Millisecond)
				return hangUp
			}
			return ""
		}}, reason: probe.ReasonTimeout},
		{name: "no AUTH", reason: probe.ReasonAuth},
		{name: "untrusted TLS", srv: fakeSMTP{ehlo: "AUTH PLAIN", tls: valid.ServerConfig()}, tls: "starttls", reason: probe.ReasonTLS},
		{name: "refused", addr: probetest.DeadPort(t), reason: probe.ReasonConnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv
			srv.greeting = cmp.Or(srv.greeting, fakeGreeting)
			addr := tt.addr
			if addr == "" {
				addr = srv.start(t)
			}
			c := config.SMTPCheck{Address: addr, TLS: tt.tls,
				Auth: &config.SMTPAuth{Username: "probe", Password: canaryPassword, Mechanism: tt.mech},
				Send: &config.SMTPSend{From: "probe@tocsin.test", To: "sink@tocsin.test"}}
			res := probetest.Within(t, mustSMTP(t, c, probe.Options{}).Probe, 300*time.Millisecond)
			t.Logf("%s/%s: %s", res.Status, res.Reason, res.Message)
			if res.Status != probe.StatusDown || res.Reason != tt.reason {
				t.Errorf("got %s/%s, want down/%s", res.Status, res.Reason, tt.reason)
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			for _, form := range canaryForms("probe") {
				if strings.Contains(string(b), form) {
					t.Errorf("result %s leaks %q", b, form)
				}
			}
		})
	}
}

// TestNewSMTPErrorsHidePassword checks construction errors never carry the
// password, from the config or from a file.
func TestNewSMTPErrorsHidePassword(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(file, []byte(canaryPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, a := range []config.SMTPAuth{
		{Username: "", Password: canaryPassword, Mechanism: "x"},
		{Username: "", PasswordFile: file, Mechanism: "x"},
	} {
		_, err := New("", config.SMTPCheck{Address: "mx:bad", TLS: "x", Auth: &a, ExpectBanner: "("}, probe.Options{})
		if err == nil {
			t.Fatal("New succeeded")
		}
		if strings.Contains(err.Error(), canaryPassword) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}
