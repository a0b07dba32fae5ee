package config

import (
	"net/url"
	"strings"
)

// Target is what the check probes, safe to show anyone: a URL without its
// userinfo, query and fragment, an address, a queue's source and key;
// "" when unknown.
func (c Check) Target() string {
	switch {
	case c.HTTP != nil:
		return publicURL(c.HTTP.URL.Reveal())
	case c.SMTP != nil:
		scheme := "smtp"
		if c.SMTP.TLS == "implicit" {
			scheme = "smtps"
		}
		return scheme + "://" + c.SMTP.Address
	case c.TCP != nil:
		return "tcp://" + c.TCP.Address
	case c.Queue != nil:
		// Source and key only: queue URLs may carry credentials.
		return strings.TrimSuffix(c.Queue.Source+":"+c.Queue.Key, ":")
	}
	return ""
}

// publicURL keeps scheme, host and path: userinfo, query and fragment may
// carry credentials or tokens. An unparsable URL gives "".
func publicURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return clean.String()
}
