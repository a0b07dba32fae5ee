package ownership

import "hash/fnv"

// Owner returns the member that owns component among members by rendezvous
// (highest random weight) hashing: each member scores the component, the
// highest score wins, ties go to the smaller member id. A member joining
// takes only the components it now scores highest on, and a member leaving
// hands out only its own, so membership changes move the least work.
// Removing members other than the owner never changes the owner, which
// lets a replica re-claim what it held before a membership change without
// waiting (see Manager).
//
// Every replica must compute the same owners: this function is part of the
// contract between tocsin versions that may run side by side in a rolling
// upgrade. Change it only together with the store's schema version.
func Owner(component string, members []string) string {
	best, bestScore := "", uint64(0)
	for _, m := range members {
		s := score(component, m)
		if best == "" || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}

// score is FNV-1a of "component\x00member", finished with splitmix64's
// mixer so that similar names spread evenly.
func score(component, member string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(component))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(member))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
