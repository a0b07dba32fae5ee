// Package ownertest grants components to a test, as the ownership manager
// grants them to a replica: tests that write on behalf of a component need
// a current fence.
package ownertest

import (
	"testing"
	"time"

	"github.com/tocsin/tocsin/ownership"
)

// Lease is the membership lease a test holds: longer than any test.
const Lease = time.Hour

// Claim makes member a live member and claims comps for it at the current
// membership epoch (taking them from whoever held them); it returns the
// grants by component. With no comps it only joins.
func Claim(t testing.TB, l ownership.Leaser, member string, comps ...string) map[string]ownership.Grant {
	t.Helper()
	ctx := t.Context()
	for range 3 { // a round may change the epoch (the join, an expiry): try again
		rep, err := l.Lease(ctx, ownership.LeaseRequest{Member: member, TTL: Lease, Epoch: -1})
		if err != nil {
			t.Fatalf("ownertest: lease %s: %v", member, err)
		}
		rep, err = l.Lease(ctx, ownership.LeaseRequest{Member: member, TTL: Lease, Epoch: rep.Epoch, Claim: comps})
		if err != nil {
			t.Fatalf("ownertest: lease %s, claim %v: %v", member, comps, err)
		}
		if len(rep.Granted) != len(comps) {
			continue
		}
		out := make(map[string]ownership.Grant, len(comps))
		for _, g := range rep.Granted {
			out[g.Component] = g
		}
		return out
	}
	t.Fatalf("ownertest: claims of %v by %s never taken", comps, member)
	return nil
}
