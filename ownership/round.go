package ownership

import (
	"context"
	"maps"
	"slices"
	"time"
)

// round runs one lease round and tells OnChange what changed.
//
// Claims wait until the membership has been settled (its epoch unchanged)
// for one renew period, so that replicas coming back together (after a
// Redis outage, or a rollout) do not take each other's components for a
// moment and give them back; after a lease of waiting they are made
// anyway, so a replica that keeps joining and leaving cannot stop the
// others from taking over. What this replica already holds is claimed at
// once: with rendezvous hashing, a member that owns a component under
// some membership owns it under every smaller one too, so such a claim
// never takes a component from a live owner it would have to return.
func (m *Manager) round(ctx context.Context) {
	req, sentFull := m.request()
	rctx, cancel := context.WithTimeout(ctx, m.o.TTL)
	rep, err := m.o.Leaser.Lease(rctx, req)
	cancel()
	if err != nil {
		if ctx.Err() == nil && !m.lastFailed {
			m.o.Logger.Warn("ownership: lease round failed; keeping what this replica holds until Redis answers", "error", err)
		}
		m.lastFailed = true
		m.m.rounds.WithLabelValues("failure").Inc()
		return
	}
	if m.lastFailed {
		m.o.Logger.Info("ownership: lease rounds succeed again")
		m.lastFailed = false
	}
	m.m.rounds.WithLabelValues("success").Inc()
	ch := m.apply(req, rep, sentFull)
	m.mu.Lock()
	m.renewed = time.Now()
	m.mu.Unlock()
	m.mu.Lock()
	again := m.full && !sentFull
	m.mu.Unlock()
	if again {
		// The membership changed or Redis lost its data: claim what this
		// replica holds at once, not a renew period later, so that its
		// writes are not fenced meanwhile.
		m.Refresh()
	}
	m.m.members.Set(float64(len(rep.Members)))
	if len(ch.Acquired) > 0 || len(ch.Lost) > 0 || ch.Reset || ch.VantagesChanged {
		m.o.Logger.Info("ownership changed", "acquired", len(ch.Acquired), "lost", len(ch.Lost),
			"reset", ch.Reset, "vantages_changed", ch.VantagesChanged, "members", len(rep.Members), "epoch", rep.Epoch)
		m.o.OnChange(ctx, ch)
	}
}

// request computes the round's claims and releases from the last round's
// membership.
func (m *Manager) request() (LeaseRequest, bool) {
	req := LeaseRequest{Member: m.o.Member, TTL: m.o.TTL, Epoch: -1}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epoch < 0 || !slices.Contains(m.members, m.o.Member) {
		return req, false
	}
	settled := m.settledLocked()
	comps := m.o.Components()
	inConfig := make(map[string]bool, len(comps))
	// The members this replica shares components with: its vantage's
	// (vantage.go); computed once, not per component.
	mine := Peers("", m.o.Member, m.members)
	owner := func(c string) string {
		if FleetWide(c) {
			return Owner(c, m.members)
		}
		return Owner(c, mine)
	}
	for _, c := range comps {
		inConfig[c] = true
		if owner(c) != m.o.Member {
			continue
		}
		_, held := m.owned[c]
		if (held && m.full) || (!held && settled) {
			req.Claim = append(req.Claim, c)
		}
	}
	for c := range m.owned {
		if !inConfig[c] || owner(c) != m.o.Member {
			req.Release = append(req.Release, c)
		}
	}
	slices.Sort(req.Release)
	req.Epoch = m.epoch
	return req, m.full
}

// settledLocked reports whether claims of new components may be made now.
func (m *Manager) settledLocked() bool {
	if m.unsettled.IsZero() {
		return true
	}
	return time.Since(m.unsettled) >= m.o.TTL
}

// apply takes a round's reply into the state and returns what changed.
func (m *Manager) apply(req LeaseRequest, rep LeaseReply, sentFull bool) Change {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ch Change
	ch.Lost, m.dropped = m.dropped, nil
	if !m.created.IsZero() && !rep.Created.Equal(m.created) || rep.Failover {
		ch.Reset = true
		m.full = true
		m.resetHeld = make(map[string]bool, len(m.owned))
		for c := range m.owned {
			m.resetHeld[c] = true
		}
	}
	m.created = rep.Created
	accepted := req.Epoch >= 0 && rep.Epoch == req.Epoch
	if rep.Epoch != m.epoch {
		m.full = true
		m.epoch, m.epochAt = rep.Epoch, rep.EpochAt
	}
	m.members = rep.Members
	live := map[string]bool{}
	for _, mem := range rep.Members {
		live[VantageOf(mem)] = true
	}
	if m.vantages != nil && !maps.Equal(live, m.vantages) {
		ch.VantagesChanged = true
	}
	m.vantages = live
	// Settled: the epoch has not changed for a renew period, by Redis'
	// clock.
	if rep.Now.Sub(m.epochAt) >= m.settle {
		m.unsettled = time.Time{}
	} else if m.unsettled.IsZero() {
		m.unsettled = time.Now()
	}
	if !accepted {
		return ch
	}
	for _, g := range rep.Granted {
		old, held := m.owned[g.Component]
		if held && old == g.Fence {
			continue
		}
		cont := (held && g.Prev == m.o.Member) || (g.Prev == "" && m.resetHeld[g.Component])
		m.owned[g.Component] = g.Fence
		ch.Acquired = append(ch.Acquired, Acquired{Grant: g, Continue: cont})
	}
	for _, c := range req.Release {
		if _, ok := m.owned[c]; ok {
			delete(m.owned, c)
			ch.Lost = append(ch.Lost, c)
		}
	}
	if sentFull && !rep.ClaimsDeferred {
		m.full = false
		m.resetHeld = nil
	}
	m.m.owned.Set(float64(len(m.owned)))
	return ch
}
