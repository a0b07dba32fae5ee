package probe

import (
	"fmt"

	"github.com/tocsin/tocsin/config"
)

// New builds the prober for a check from its validated config.
func New(c config.Check, o Options) (Prober, error) {
	switch c.Type {
	case "http":
		if c.HTTP == nil {
			return nil, fmt.Errorf("http: missing http block")
		}
		return NewHTTP(*c.HTTP, o)
	}
	return nil, fmt.Errorf("type: %q is not supported", c.Type)
}
