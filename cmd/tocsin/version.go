package main

import (
	"fmt"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	promversion "github.com/prometheus/common/version"
)

// The version, commit and branch are stamped at build time where
// client_golang's build-info collector reads them, as Prometheus' own
// binaries do (deploy/Dockerfile):
//
//	-ldflags "-X github.com/prometheus/common/version.Version=v1.2.3
//	          -X github.com/prometheus/common/version.Revision=abc123
//	          -X github.com/prometheus/common/version.Branch=main"
//
// An unstamped build is "dev", with the VCS revision Go recorded.

// appVersion is the stamped version, "dev" if none.
func appVersion() string {
	if promversion.Version == "" {
		return "dev"
	}
	return promversion.Version
}

// buildCommit is the stamped revision, else Go's VCS one, else "unknown".
func buildCommit() string { return promversion.GetRevision() }

func versionString() string {
	return fmt.Sprintf("tocsin %s (commit %s, %s)", appVersion(), buildCommit(), runtime.Version())
}

// buildInfo registers tocsin_build_info: version, revision, branch,
// goversion, goos, goarch and tags.
func buildInfo(reg prometheus.Registerer) {
	reg.MustRegister(versioncollector.NewCollector("tocsin",
		versioncollector.WithExtraConstLabels(prometheus.Labels{"version": appVersion()})))
}
