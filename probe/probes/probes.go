// Package probes builds the prober of any check. It stands apart from
// probe, which holds the HTTP, TCP and heartbeat probers and what every
// prober shares, because the rooms it also builds from, probe/queue and
// probe/smtp, import probe: probe.New would be an import cycle.
package probes

import (
	"fmt"

	"github.com/tocsin/tocsin/config"
	"github.com/tocsin/tocsin/probe"
	"github.com/tocsin/tocsin/probe/queue"
	"github.com/tocsin/tocsin/probe/smtp"
)

// New builds the prober for a check from its validated config.
func New(c config.Check, o probe.Options) (probe.Prober, error) {
	switch c.Type {
	case "http":
		if c.HTTP == nil {
			return nil, fmt.Errorf("http: missing http block")
		}
		return probe.NewHTTP(*c.HTTP, o)
	case "smtp":
		if c.SMTP == nil {
			return nil, fmt.Errorf("smtp: missing smtp block")
		}
		s, err := smtp.New(c.Name, *c.SMTP, o)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "tcp":
		if c.TCP == nil {
			return nil, fmt.Errorf("tcp: missing tcp block")
		}
		return probe.NewTCP(*c.TCP, o)
	case "queue":
		if c.Queue == nil {
			return nil, fmt.Errorf("queue: missing queue block")
		}
		q, err := queue.New(c.Name, *c.Queue, o)
		if err != nil {
			return nil, err
		}
		return q, nil
	case "heartbeat":
		if c.Heartbeat == nil {
			return nil, fmt.Errorf("heartbeat: missing heartbeat block")
		}
		return probe.NewHeartbeat(c.Name, *c.Heartbeat, o)
	}
	return nil, fmt.Errorf("type: %q is not supported", c.Type)
}
