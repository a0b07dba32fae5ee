package detector

import "github.com/tocsin/tocsin/probe"

// The codes of a Sample's status and reason. Every reason a prober gives
// is one of probe's constants; one it does not know (a newer prober's)
// keeps the meaning that matters here, a failure, as probe.ReasonError.

func statusCode(s probe.Status) uint8 {
	switch s {
	case probe.StatusUp:
		return 1
	case probe.StatusDegraded:
		return 2
	case probe.StatusDown:
		return 3
	}
	return 0
}

func statusOf(c uint8) probe.Status {
	switch c {
	case 1:
		return probe.StatusUp
	case 2:
		return probe.StatusDegraded
	case 3:
		return probe.StatusDown
	}
	return ""
}

// reasons lists every reason by code; its order is never stored, only
// held in memory.
func reasons() [17]probe.Reason {
	return [17]probe.Reason{probe.ReasonNone, probe.ReasonTimeout, probe.ReasonDNS, probe.ReasonConnect,
		probe.ReasonTLS, probe.ReasonStatus, probe.ReasonRedirect, probe.ReasonBody, probe.ReasonProtocol,
		probe.ReasonAuth, probe.ReasonLatency, probe.ReasonCertExpiry, probe.ReasonThreshold,
		probe.ReasonStalled, probe.ReasonMissed, probe.ReasonFail, probe.ReasonError}
}

func reasonCode(r probe.Reason) uint8 {
	all := reasons()
	for i, known := range all {
		if known == r {
			return uint8(i)
		}
	}
	return uint8(len(all) - 1) // probe.ReasonError
}

func reasonOf(c uint8) probe.Reason {
	all := reasons()
	if int(c) < len(all) {
		return all[c]
	}
	return probe.ReasonError
}
