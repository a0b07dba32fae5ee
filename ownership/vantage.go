package ownership

import "strings"

// With vantages, each vantage shares the components among its own live
// replicas: a component has one owner per vantage, each probing it from
// there, and the store combines their verdicts (redisstore, observe.lua).
// A replica's member id carries its vantage, "<vantage>/<id>", so every
// replica and every script can tell the vantage of a member from its id
// alone. A pseudo-component, whose id holds a colon (a receiver's delivery,
// "notify:<receiver>"), is owned once in the whole fleet: its events must
// go out once, whichever vantage sends them.

// MemberID is the member id of replica id in vantage ("" for none).
func MemberID(vantage, id string) string {
	if vantage == "" {
		return id
	}
	return vantage + "/" + id
}

// VantageOf is the vantage of a member id ("" for none).
func VantageOf(member string) string {
	v, _, ok := strings.Cut(member, "/")
	if !ok {
		return ""
	}
	return v
}

// FleetWide reports whether component is owned once in the whole fleet,
// not once per vantage.
func FleetWide(component string) bool { return strings.Contains(component, ":") }

// Peers returns the members that share component with member: those of
// its vantage, or every member for a fleet-wide pseudo-component.
func Peers(component, member string, members []string) []string {
	v := VantageOf(member)
	if v == "" || FleetWide(component) {
		return members
	}
	out := make([]string, 0, len(members))
	for _, m := range members {
		if VantageOf(m) == v {
			out = append(out, m)
		}
	}
	return out
}
