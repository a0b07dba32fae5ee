package ownership

import "errors"

// Fence identifies one ownership grant: the replica (member) that holds it
// and the token Redis issued with it. Every write made on behalf of a
// component carries the fence of its grant; the store compares it, inside
// the same atomic script as the write, with the component's current grant
// and rejects a stale one. Tokens only grow: a grant issued later always
// has a larger token, whichever replica asked for it.
type Fence struct {
	Member string
	Token  int64
}

// Valid reports whether f names a grant at all.
func (f Fence) Valid() bool { return f.Member != "" && f.Token > 0 }

// ErrFenced is returned (wrapped) for a write whose fence is not the
// component's current grant: another replica owns the component now, or
// this replica's membership lease expired (it was paused, or cut off from
// Redis, for longer than the lease).
var ErrFenced = errors.New("fencing token is stale: the component is not owned by this replica")
