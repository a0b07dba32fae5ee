package config

import "time"

// validate checks a heartbeat block. (Owned by the heartbeat work: rules to come.)
func (h *HeartbeatCheck) validate(p *problems, path string, interval time.Duration) {}

// applyDefaults sets the heartbeat block's unset values.
func (h *HeartbeatCheck) applyDefaults(ch *Check) {}
