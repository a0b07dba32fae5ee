package config

import (
	"errors"
	"fmt"
)

// Reload guards the reloads of a running daemon.
type Reload struct {
	// AllowNoChecks lets a reload put in force a config without checks
	// while the running one has some. It is read from the new config
	// itself, and only from its file (see CheckReload).
	AllowNoChecks bool `koanf:"allow_no_checks"`
}

// keyAllowNoChecks is Reload.AllowNoChecks' key path.
const keyAllowNoChecks = "reload.allow_no_checks"

// fileOnlyAllowNoChecks is the problem of reload.allow_no_checks set from
// the environment: set there, it would outlive every file, and let the
// empty file it exists to stop through.
const fileOnlyAllowNoChecks = "reload.allow_no_checks can be set only in the config file: " +
	"set in the environment it would let an empty or truncated file through"

// ErrReloadRefused marks a valid config that a running daemon must not put
// in force in place of the one it runs.
var ErrReloadRefused = errors.New("reload refused")

// CheckReload says whether a daemon running old may put next, a config
// that Load accepted, in force. It refuses a next without checks while old
// has some, unless next sets reload.allow_no_checks: a zero-byte or
// truncated file is a valid config ("0 components, 0 checks"), and putting
// it in force would send every open incident to monitoring, then resolve
// it. The opt-in has to be in the new file, which an empty or truncated
// file cannot carry. Starting without checks is not a reload: Load alone
// decides.
func CheckReload(old, next *Config) error {
	if len(next.Checks) > 0 || len(old.Checks) == 0 || next.Reload.AllowNoChecks {
		return nil
	}
	return fmt.Errorf("%w: the new config has no checks and the running one has %d; "+
		"an empty or truncated file would resolve every open incident. "+
		"To remove every check, set reload.allow_no_checks: true in the new config file",
		ErrReloadRefused, len(old.Checks))
}
