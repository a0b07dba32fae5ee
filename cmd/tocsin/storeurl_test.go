package main

import (
	"os"
	"testing"

	"github.com/tocsin/tocsin/internal/redistest"
)

// storeEnv selects the Redis tocsin's store uses in the end-to-end
// scenarios: unset, the one redis-server the test started; "cluster", a
// three-primary Redis Cluster of its own (scripts/test runs the scenarios
// once more so). Queues and jobs stay on the single server: they are the
// application's Redis, not tocsin's.
const storeEnv = "TOCSIN_TEST_STORE"

// storeURL is redis.url for a scenario: rds's, or a Redis Cluster's.
func storeURL(t *testing.T, rds *redistest.Server) string {
	t.Helper()
	switch v := os.Getenv(storeEnv); v {
	case "":
		return rds.URL()
	case "cluster":
		return redistest.StartCluster(t, 3).URL()
	default:
		t.Fatalf("%s=%q: want empty or cluster", storeEnv, v)
		return ""
	}
}
