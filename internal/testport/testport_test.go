package testport

import "testing"

func TestFreeGivesDistinctPorts(t *testing.T) {
	t.Parallel()
	ports, err := Free(4)
	if err != nil || len(ports) != 4 {
		t.Fatalf("Free(4) = %v, %v", ports, err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Errorf("ports %v: not distinct and positive", ports)
		}
		seen[p] = true
	}
	if HostPort(80) != "127.0.0.1:80" {
		t.Error(HostPort(80))
	}
}
