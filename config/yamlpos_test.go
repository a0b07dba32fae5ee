package config

import "testing"

// TestLocate: key paths as problems name them are found where the YAML
// writes them; what the file does not hold is not.
func TestLocate(t *testing.T) {
	t.Parallel()
	l := NewLocator([]byte(`server:
  listen: ":8080"
checks:
  - name: a
    intervall: 30s
  - {name: b, http: {url: "http://x", headers: {X.Y: z}}}
anchored: &a {k: 1}
aliased: *a
`))
	for path, want := range map[string]Position{
		"server":                     {1, 1},
		"server.listen":              {2, 3},
		"checks":                     {3, 1},
		"checks[0]":                  {4, 5},
		"checks[0].intervall":        {5, 5},
		"checks[1].http.url":         {6, 22},
		"checks[1].http.headers.X.Y": {6, 49},
		"aliased.k":                  {7, 15},
	} {
		if got, ok := l.Locate(path); !ok || got != want {
			t.Errorf("Locate(%q) = %v, %v; want %v", path, got, ok, want)
		}
	}
	for _, path := range []string{"", "page", "checks[2]", "checks[0].http", "checks[x]", "server.listen.port", "env TOCSIN_X", "checks[0"} {
		if got, ok := l.Locate(path); ok {
			t.Errorf("Locate(%q) = %v, want not found", path, got)
		}
	}
	if _, ok := NewLocator([]byte("a: [")).Locate("a"); ok {
		t.Error("a file that does not parse has positions")
	}
}
