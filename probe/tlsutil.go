package probe

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/tocsin/tocsin/config"
)

// buildTLSConfig translates an HTTP check's tls block. Certificates are
// verified against the system roots, or only against ca_file when it is
// set, at the time now returns.
func buildTLSConfig(c config.TLS, now func() time.Time, cas *Shared) (*tls.Config, error) {
	return TLSConfigFor("http.tls", c, now, cas)
}

// TLSConfigFor is buildTLSConfig for a block at key ("smtp.tls_config"),
// which its errors name. A nil now reads time.Now; the probers of one
// config that pass nil share one config per block (Shared.tlsConfig).
func TLSConfigFor(key string, c config.TLS, now func() time.Time, sh *Shared) (*tls.Config, error) {
	if c.CertExpiryWarning < 0 {
		return nil, errors.New(key + ".cert_expiry_warning: must not be negative")
	}
	build := func() (*tls.Config, error) {
		cfg := &tls.Config{
			ServerName:         c.ServerName,
			InsecureSkipVerify: c.InsecureSkipVerify,
			Time:               now,
		}
		if c.CertFile != "" {
			// Loaded once per TLS block and load (Shared.tlsConfig).
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("%s.cert_file: %w", key, err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		if c.CAFile == "" {
			return cfg, nil
		}
		pool, err := sh.caPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", key, err)
		}
		cfg.RootCAs = pool
		return cfg, nil
	}
	if now != nil {
		return build()
	}
	return sh.tlsConfig(c, build)
}

// leafNotAfter is the expiry of the server's leaf certificate, zero without TLS.
func leafNotAfter(cs *tls.ConnectionState) time.Time {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return time.Time{}
	}
	return cs.PeerCertificates[0].NotAfter
}

// rejectedNotAfter is the expiry of the leaf certificate that verification
// rejected in err, zero if err is no such rejection: an expired
// certificate still tells how long ago it expired.
func rejectedNotAfter(err error) time.Time {
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) || len(verr.UnverifiedCertificates) == 0 {
		return time.Time{}
	}
	return verr.UnverifiedCertificates[0].NotAfter
}

// CertWarnings is the private warning of a certificate that expires within
// warn (0: the warning is off), nil otherwise. One that has expired is no
// warning: verification rejects it, or JudgeSoft does, and the check is down.
func CertWarnings(notAfter, now time.Time, warn time.Duration) []Warning {
	if notAfter.IsZero() || warn <= 0 || !now.Before(notAfter) || notAfter.Sub(now) > warn {
		return nil
	}
	return []Warning{{Reason: ReasonCertExpiry, Message: certExpiryMessage(notAfter, now)}}
}

// certExpiryMessage says how soon notAfter is, or how long ago it passed.
func certExpiryMessage(notAfter, now time.Time) string {
	left := notAfter.Sub(now)
	date := notAfter.UTC().Format(time.DateOnly)
	if left <= 0 {
		if ago := int(-left.Hours() / 24); ago > 0 {
			return fmt.Sprintf("certificate expired %s ago (%s)", Plural(ago, "day"), date)
		}
		return fmt.Sprintf("certificate expired less than a day ago (%s)", date)
	}
	switch days := int(left.Hours() / 24); days {
	case 0:
		return fmt.Sprintf("certificate expires in less than a day (%s)", date)
	default:
		return fmt.Sprintf("certificate expires in %s (%s)", Plural(days, "day"), date)
	}
}

// Plural formats n and a noun, "1 day", "3 days".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
