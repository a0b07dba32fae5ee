package config

import "time"

// validate checks a queue block. (Owned by the queue work: rules to come.)
func (q *QueueCheck) validate(p *problems, path string, timeout time.Duration) {}

// applyDefaults sets the queue block's unset values.
func (q *QueueCheck) applyDefaults() {}
