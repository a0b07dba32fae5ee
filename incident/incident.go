// Package incident defines incidents, their lifecycle policy and the Store
// that applies every transition atomically.
package incident

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/tocsin/tocsin/detector"
	"github.com/tocsin/tocsin/ownership"
)

// ComponentStatus is a component's Statuspage status.
type ComponentStatus = detector.ComponentStatus

// Status is an incident's Statuspage status.
type Status string

// Incident statuses, as Statuspage spells them.
const (
	Investigating Status = "investigating"
	Identified    Status = "identified"
	Monitoring    Status = "monitoring"
	Resolved      Status = "resolved"
)

// Impact is an incident's Statuspage impact.
type Impact string

// Impacts, least first.
const (
	ImpactNone     Impact = "none"
	ImpactMinor    Impact = "minor"
	ImpactMajor    Impact = "major"
	ImpactCritical Impact = "critical"
)

// Impacts lists every impact, least first.
func Impacts() []Impact {
	return []Impact{ImpactNone, ImpactMinor, ImpactMajor, ImpactCritical}
}

// ImpactOf maps a component status to the impact it gives an incident.
func ImpactOf(s ComponentStatus) Impact {
	switch s {
	case detector.DegradedPerformance:
		return ImpactMinor
	case detector.PartialOutage:
		return ImpactMajor
	case detector.MajorOutage:
		return ImpactCritical
	}
	return ImpactNone
}

// Incident is one incident with its full update history.
type Incident struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	Impact Impact `json:"impact"`
	// Auto is true for incidents opened by the detector.
	Auto         bool      `json:"auto"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	StartedAt    time.Time `json:"started_at"`
	MonitoringAt time.Time `json:"monitoring_at,omitzero"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`
	// Components maps every component the incident ever affected to its
	// current status.
	Components map[string]ComponentStatus `json:"components"`
	// ByHand is true for an incident a person opened or moved: only a
	// person resolves it; automation adds evidence (docs/architecture.md).
	ByHand bool `json:"by_hand,omitempty"`
	// HumanComponents are the component statuses a person set on the
	// incident. While it is unresolved they show on the components, worst
	// of them and the automatic status.
	HumanComponents map[string]ComponentStatus `json:"human_components,omitempty"`
	// Updates is the timeline, oldest first; never empty.
	Updates []Update `json:"updates"`
}

// Update is one entry of an incident's timeline.
type Update struct {
	ID                 string              `json:"id"`
	Status             Status              `json:"status"`
	Body               string              `json:"body"`
	CreatedAt          time.Time           `json:"created_at"`
	AffectedComponents []AffectedComponent `json:"affected_components,omitempty"`
	// Notified is true when the update was queued for at least one
	// notification receiver (Statuspage's deliver_notifications).
	Notified bool `json:"notified,omitempty"`
}

// AffectedComponent records one component's status change in an update.
type AffectedComponent struct {
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	OldStatus ComponentStatus `json:"old_status"`
	NewStatus ComponentStatus `json:"new_status"`
}

// Policy tunes the automatic lifecycle (config "incidents").
type Policy struct {
	// GroupBy is how a failure joins an open automatic incident that began
	// within GroupWindow: GroupByRelation (the default) only when related,
	// GroupByWindow whatever it is.
	GroupBy      string
	GroupWindow  time.Duration
	ResolveAfter time.Duration
	ReopenWindow time.Duration
	Retention    time.Duration
}

// Grouping policies (config incidents.group_by).
const (
	GroupByRelation = "relation"
	GroupByWindow   = "window"
)

// Observation says that a component's status is now Status. Applying the same
// observation twice changes nothing.
type Observation struct {
	Component     string
	ComponentName string
	Status        ComponentStatus
	At            time.Time
	// StartedAt is when the first bad result behind this status was seen; a new
	// incident starts then, not when the threshold confirmed it.
	StartedAt time.Time
	// Body is the evidence for the update: which check, what error, what figure.
	Body string
	// NewID is the id to give an incident if this observation opens one.
	NewID string
	// Detail names the checks behind Status (e.g. "mail-worker=down,
	// mailers-queue=degraded"). A new detail with the same status adds an
	// update to the component's open incident: another check failing is
	// news even when the status does not change. Empty when operational.
	Detail string
	// Parents are the ids of the components this one depends on (config
	// depends_on). A component turning bad outside any incident joins an
	// open incident in which one of them is bad, whatever the group window,
	// and the update names the parent. The store judges the parents by
	// what it holds, so a parent owned by another replica counts too.
	Parents []string
	// Group and Links relate this component to others: under Policy.GroupBy
	// "relation" it joins an open automatic incident that began within the
	// group window only if the incident holds a component of the same
	// Group (config group; "" = none) or one of Links, the components
	// linked to it through depends_on in either direction.
	Group  string
	Links  []string
	Policy Policy
	// Fence is the grant of the component's owner, on whose behalf the
	// observation is written; a stale one is rejected with
	// ownership.ErrFenced.
	Fence ownership.Fence
	// Retire says the component left the config: the observation (status
	// operational) ends its part in incidents. Any replica may retire a
	// component that no live replica owns; Fence.Member names the caller.
	Retire bool
	// Gone names what left monitoring when this status is no recovery: the
	// component's name when it is retired, or its checks a reload removed
	// while they failed. The incident's updates then say so instead of
	// claiming a recovery.
	Gone string
	// Vantages, Quorum and Regional combine the vantages' verdicts when
	// Fence.Member has a vantage (ownership.VantageOf): Status, Body and
	// Detail are then what that vantage sees, and the component takes the
	// status that at least Quorum (0: a majority) of the live Vantages see;
	// Regional "degraded" makes what fewer see degraded_performance.
	Vantages []string
	Quorum   int
	Regional string
}

// Action is what a transition did.
type Action string

// Actions a transition can report.
const (
	ActionNone       Action = "none"       // nothing changed (idempotent replay)
	ActionComponent  Action = "component"  // component status stored, no incident involved
	ActionOpened     Action = "opened"     // a new incident
	ActionJoined     Action = "joined"     // the component joined an open incident
	ActionUpdated    Action = "updated"    // a component of an open incident changed
	ActionMonitoring Action = "monitoring" // all components operational again
	ActionReopened   Action = "reopened"   // relapse while monitoring or within reopen_window
	ActionResolved   Action = "resolved"
)

// Transition is the outcome of one atomic store operation.
type Transition struct {
	Action     Action
	IncidentID string
	Impact     Impact
	// Combined is, with vantages, the component's status once the store
	// combined the vantages' verdicts (Observation.Vantages); empty
	// without.
	Combined ComponentStatus
}

// TickRequest asks the store for the time-based transitions due at Now.
type TickRequest struct {
	Now          time.Time
	Policy       Policy
	ResolvedBody string
	// GoneBody replaces ResolvedBody for an incident some of whose
	// components left monitoring (a reload removed them) before they
	// recovered: its "{gone}" is replaced by their names.
	GoneBody string
	// Member is the replica asking; only one holding a live membership
	// lease may (ownership.ErrFenced otherwise).
	Member string
}

// ComponentState is a component's stored status.
type ComponentState struct {
	Status    ComponentStatus
	UpdatedAt time.Time
	// With vantages: how many live vantages report on the component, and
	// those of them that see it failing, sorted (the status is what a
	// quorum of them see).
	Vantages    int
	FailingFrom []string
}

// State is everything the status API shows, read in one consistent step.
type State struct {
	Version int64
	// UpdatedAt is when the state last changed and CreatedAt when the
	// store was first written, both by the store's clock, which every
	// replica shares (zero if never).
	UpdatedAt, CreatedAt time.Time
	Components           map[string]ComponentState
	// LiveVantages are the vantages with a live replica, sorted; nil when
	// the store cannot tell (the embedded store), empty without vantages.
	LiveVantages []string
	// Incidents holds the open incidents and the most recent others, newest
	// first.
	Incidents []Incident
}

// Versions tell a reader, in one cheap read, whether to read again.
type Versions struct {
	// State changes with every change of the State; Checks with every
	// change of the published check states.
	State, Checks int64
	// Created is when the store was first written: a change means it lost
	// its data. Now is the store's clock, which every replica shares.
	Created, Now time.Time
}

// Store applies incident transitions atomically. Implementations must make
// each call one atomic step, safe with any number of concurrent replicas.
type Store interface {
	// Observe records a component status and opens, joins, updates, moves to
	// monitoring or reopens an incident as the policy says.
	Observe(ctx context.Context, o Observation) (Transition, error)
	// Tick resolves incidents whose monitoring period has passed and trims
	// resolved incidents older than the retention.
	Tick(ctx context.Context, t TickRequest) ([]Transition, error)
	// Version returns a counter that changes whenever the state does.
	Version(ctx context.Context) (int64, error)
	// Load reads the state: all component statuses, all open incidents and the
	// limit most recent incidents.
	Load(ctx context.Context, limit int) (State, error)
}

// NewID returns a random Statuspage-style id: 12 characters of [a-z0-9].
func NewID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
