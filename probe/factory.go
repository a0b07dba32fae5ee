package probe

import (
	"fmt"

	"github.com/tocsin/tocsin/config"
)

// New builds the prober for a check from its validated config.
func New(c config.Check, o Options) (Prober, error) {
	switch c.Type {
	case "http":
		if c.HTTP == nil {
			return nil, fmt.Errorf("http: missing http block")
		}
		return NewHTTP(*c.HTTP, o)
	case "smtp":
		if c.SMTP == nil {
			return nil, fmt.Errorf("smtp: missing smtp block")
		}
		s, err := NewSMTP(*c.SMTP, o)
		if err != nil {
			return nil, err
		}
		if c.Name != "" {
			s.name = c.Name
		}
		return s, nil
	case "tcp":
		if c.TCP == nil {
			return nil, fmt.Errorf("tcp: missing tcp block")
		}
		return NewTCP(*c.TCP, o)
	case "queue":
		if c.Queue == nil {
			return nil, fmt.Errorf("queue: missing queue block")
		}
		q, err := NewQueue(*c.Queue, o)
		if err != nil {
			return nil, err
		}
		if c.Queue.Key == "" && c.Name != "" {
			q.name = c.Name // http_json and prometheus have no key to show
		}
		return q, nil
	case "heartbeat":
		if c.Heartbeat == nil {
			return nil, fmt.Errorf("heartbeat: missing heartbeat block")
		}
		return NewHeartbeat(c.Name, *c.Heartbeat, o)
	}
	return nil, fmt.Errorf("type: %q is not supported", c.Type)
}
