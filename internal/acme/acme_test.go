package acme

import (
	"net/http"
	"net/smtp"
	"testing"
	"time"
)

func TestServiceFaults(t *testing.T) {
	t.Parallel()
	s, err := StartService("web")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	get := func() (int, error) {
		resp, err := http.Get(s.URL())
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(); err != nil || code != 200 {
		t.Fatalf("healthy: %d %v", code, err)
	}
	s.SetStatus(503)
	if code, _ := get(); code != 503 {
		t.Errorf("status fault: %d", code)
	}
	s.Heal()
	s.SetLatency(50 * time.Millisecond)
	start := time.Now()
	if _, err := get(); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Errorf("latency fault: %v after %s", err, time.Since(start))
	}
	s.Refuse()
	if _, err := get(); err == nil {
		t.Error("refusing, but the request went through")
	}
	if err := s.Accept(); err != nil {
		t.Fatal(err)
	}
	if code, err := get(); err != nil || code != 200 {
		t.Errorf("after Accept: %d %v", code, err)
	}
}

func TestMailPartition(t *testing.T) {
	t.Parallel()
	m, err := StartMail()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	send := func() error {
		return smtp.SendMail(m.Addr(), nil, "probe@acme.test", []string{"sink@acme.test"}, []byte("Subject: x\r\n\r\nhi\r\n"))
	}
	if err := send(); err != nil || m.Received() != 1 {
		t.Fatalf("send: %v, received %d", err, m.Received())
	}
	m.Partition()
	if err := send(); err == nil {
		t.Error("partitioned, but mail went through")
	}
	if err := m.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil || m.Received() != 2 {
		t.Errorf("after Heal: %v, received %d", err, m.Received())
	}
}
