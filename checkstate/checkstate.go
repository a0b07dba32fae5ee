// Package checkstate holds the types of the check states a component's
// owner publishes, so that every replica shows the same checks and a new
// owner continues where the last one stopped: the engine writes them, the
// read model (status) reads them, and redisstore keeps them.
package checkstate

import (
	"strings"
	"time"

	"github.com/tocsin/tocsin/detector"
)

// Batch is one writer pass of an owner's changed checks.
type Batch struct {
	// Member is the owner's replica and Tokens its grants by component: a
	// check whose component's grant is stale is not written.
	Member string
	Tokens map[string]int64
	Checks []Check
}

// Check is one published check: its detector state and, for stateful
// probers (queue trends), the prober's state, opaque to all but the
// prober.
type Check struct {
	State      detector.Check
	ProbeState []byte
}

// Changes are the published checks that changed since a reader's last
// read.
type Changes struct {
	// Seq is the sequence number of the last change read; pass it back to
	// read what changed after it.
	Seq int64
	// More is true when the read stopped early: read again from Seq.
	More bool
	// Reset is true when the reader's sequence number is from another
	// history (Redis lost its data): drop what was read before.
	Reset bool
	// Updated is when the checks were last written, by the store's clock.
	Updated time.Time
	// Checks are the changed checks' states; Removed the fields (Field)
	// whose state was deleted.
	Checks []detector.Check
	// Vantages holds the vantage each of Checks was published from, ""
	// without vantages (Field).
	Vantages []string
	Removed  []string
	// Undecodable are the fields whose stored state could not be read
	// (written by something else): shown as unknown until their owner
	// writes again.
	Undecodable []string
}

// PublishResult says what of a batch was not written.
type PublishResult struct {
	// Fenced lists the components whose checks were not written: the
	// writer no longer owns them.
	Fenced []string
}

// Field is where the store keeps check's state as published from vantage
// ("" for none): each vantage probes and publishes every check on its own,
// so with vantages a check has one state per vantage, "<check>@<vantage>"
// (check names are [a-z0-9-]+).
func Field(check, vantage string) string {
	if vantage == "" {
		return check
	}
	return check + "@" + vantage
}

// SplitField is the check and the vantage of a Field.
func SplitField(field string) (check, vantage string) {
	check, vantage, _ = strings.Cut(field, "@")
	return check, vantage
}
