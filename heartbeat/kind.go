// Package heartbeat takes the beats that jobs push for heartbeat checks
// (GET, HEAD or POST /api/v1/heartbeats/{check}, /fail, /start, /{exit
// status}, /log) and hands them to a
// Beater, which keeps them in Redis (redisstore), so that any replica can
// take a beat and the check's owner can evaluate it. The evaluation itself
// is probe.Heartbeat.
package heartbeat

import (
	"context"
	"time"
)

// Kind is the kind of a beat, as Healthchecks.io has them.
type Kind string

// The kinds of beat. Each is also the name of the hash field that holds the
// time of the latest beat of that kind.
const (
	// Success: a run finished well (/api/v1/heartbeats/{check}, …/0).
	Success Kind = "success"
	// Fail: a run reported failure (…/fail, …/1 to …/255).
	Fail Kind = "fail"
	// Start: a run began (…/start); it must report back within the grace.
	Start Kind = "start"
	// Log: a message from the job (…/log, the body), which changes no
	// state; only the latest is kept.
	Log Kind = "log"
)

// Beater records beats; redisstore.Store is one.
type Beater interface {
	// Beat records a beat of kind (not Log) at time at; times only move
	// forward.
	Beat(ctx context.Context, check string, kind Kind, at time.Time) error
	// Log records a job's message at time at, in place of an older one.
	Log(ctx context.Context, check string, at time.Time, message string) error
}
