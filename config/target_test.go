package config

import "testing"

func TestPublicURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://user:pw@host:8443/a/b?x=1#f": "https://host:8443/a/b",
		"http://host":                         "http://host",
		"not a url":                           "",
		"://bad":                              "",
		"https://host/p%2Fq?token=t":          "https://host/p%2Fq",
	}
	for in, want := range tests {
		if got := publicURL(in); got != want {
			t.Errorf("publicURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckTargetPerType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    Check
		want string
	}{
		{"http drops userinfo and query", Check{HTTP: &HTTPCheck{URL: "https://u:p@app.test/health?token=x"}}, "https://app.test/health"},
		{"smtp starttls", Check{SMTP: &SMTPCheck{Address: "mx.test:25", TLS: "starttls"}}, "smtp://mx.test:25"},
		{"smtp implicit", Check{SMTP: &SMTPCheck{Address: "mx.test:465", TLS: "implicit"}}, "smtps://mx.test:465"},
		{"tcp", Check{TCP: &TCPCheck{Address: "db.test:5432"}}, "tcp://db.test:5432"},
		{"queue shows no URL", Check{Queue: &QueueCheck{Source: "sidekiq", Key: "mailers", RedisURL: "redis://:pw@jobs:6379/0"}}, "sidekiq:mailers"},
		{"queue without key", Check{Queue: &QueueCheck{Source: "prometheus", URL: "http://u:pw@prom:9090"}}, "prometheus"},
		{"none", Check{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.c.Target(); got != tc.want {
				t.Errorf("Target = %q, want %q", got, tc.want)
			}
		})
	}
}
