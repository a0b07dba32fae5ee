package config

// Flap detection defaults, in percent state change: detector.DefaultFlapLow
// and detector.DefaultFlapHigh, whose comments say why (config does not
// import detector).
const (
	defaultFlapLow  = 5
	defaultFlapHigh = 30
	maxFlapPercent  = 100
)

// validateFlap checks the default flap thresholds: 0 < low < high <= 100.
func (d Defaults) validateFlap(p *problems) {
	flapRules(p, "defaults", d.FlapLowThreshold, d.FlapHighThreshold, true, true)
}

// validateFlap checks a check's flap thresholds. A value equal to the one in
// defaults was most likely inherited and is reported there, once; a pair
// that is entirely inherited is not checked again.
func (ch *Check) validateFlap(p *problems, path string, d Defaults) {
	ownLow := ch.FlapLowThreshold != d.FlapLowThreshold
	ownHigh := ch.FlapHighThreshold != d.FlapHighThreshold
	if ownLow || ownHigh {
		flapRules(p, path, ch.FlapLowThreshold, ch.FlapHighThreshold, ownLow, ownHigh)
	}
}

// flapRules reports the threshold problems under path; ownLow and ownHigh
// say which values were set there, so that an ordering problem is reported
// on the key that was set.
func flapRules(p *problems, path string, low, high float64, ownLow, ownHigh bool) {
	lowKey, highKey := path+".flap_low_threshold", path+".flap_high_threshold"
	lowOK := low > 0
	if !lowOK && ownLow {
		p.add(lowKey, "must be greater than 0")
	}
	switch {
	case high > maxFlapPercent:
		if ownHigh {
			p.addf(highKey, "must be at most %d", maxFlapPercent)
		}
	case !lowOK:
		if high <= 0 && ownHigh {
			p.add(highKey, "must be greater than 0")
		}
	case high <= low:
		if ownHigh {
			p.addf(highKey, "must be greater than flap_low_threshold (%g)", low)
		} else {
			p.addf(lowKey, "must be less than flap_high_threshold (%g)", high)
		}
	}
}
