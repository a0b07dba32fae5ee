package deploy

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const prometheusRuleFile = baseDir + "/prometheusrule.yaml"

// TestPromtoolCheckRules: the rules load in Prometheus (promtool check rules).
func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(promtool(t), "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", rulesFile, err, out)
	}
	t.Logf("%s", out)
}

// TestPromtoolTestRules: the rules' unit tests pass (promtool test rules).
func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(promtool(t), "test", "rules", rulesTestFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", rulesTestFile, err, out)
	}
}

// ruleFile is the rules file, decoded strictly into the Prometheus
// Operator's types (the same shape as Prometheus' own rule files).
func ruleFile(t *testing.T) monitoringv1.PrometheusRuleSpec {
	t.Helper()
	js, err := yaml.YAMLToJSON(readFile(t, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var spec monitoringv1.PrometheusRuleSpec
	if err := decodeStrict(js, &spec); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return spec
}

// TestEveryAlertTested: each alert has a unit test where it fires and one
// where it does not; each has a severity, a summary, a description and a
// runbook link to a section of docs/kubernetes.md that exists.
func TestEveryAlertTested(t *testing.T) {
	t.Parallel()
	var tests struct {
		Tests []struct {
			Name          string `json:"name"`
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(readFile(t, rulesTestFile), &tests); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	anchors := headingAnchors(string(readFile(t, runbookFile)))
	want := []string{"TocsinAbsent", "TocsinDown", "TocsinEvaluationsStale", "TocsinChecksUnowned", "TocsinIncidentOpen",
		"TocsinConfigReloadFailed", "TocsinStoreErrors", "TocsinNotificationBacklog", "TocsinNotificationReceiverMisconfigured",
		"TocsinNotificationsDropped", "TocsinTLSCertificateExpiring"}
	var seen []string
	for _, g := range ruleFile(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			seen = append(seen, r.Alert)
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: unit tests where it fires: %v, where it does not: %v; want both", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
			if r.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", r.Alert)
			}
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[k] == "" {
					t.Errorf("%s: no %s annotation", r.Alert, k)
				}
			}
			_, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "/docs/kubernetes.md#")
			if anchor != strings.ToLower(r.Alert) || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q, want docs/kubernetes.md#%s, a heading there", r.Alert, r.Annotations["runbook_url"], strings.ToLower(r.Alert))
			}
		}
	}
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Errorf("alerts %v, want %v", seen, want)
	}
}

// headingAnchors returns the GitHub anchors of a Markdown file's headings.
func headingAnchors(md string) map[string]bool {
	out := map[string]bool{}
	drop := regexp.MustCompile("[^a-z0-9 _-]")
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		out[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return out
}

// TestPrometheusRuleInSync: the PrometheusRule in the base carries exactly
// the groups of the rules file, so the Prometheus Operator loads what
// promtool tested. -update regenerates it.
func TestPrometheusRuleInSync(t *testing.T) {
	t.Parallel()
	want := monitoringv1.PrometheusRule{
		TypeMeta: metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   "tocsin",
			Labels: map[string]string{"app.kubernetes.io/name": "tocsin"},
		},
		Spec: ruleFile(t),
	}
	if *update {
		b, err := yaml.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte("  creationTimestamp: null\n"), nil, 1)
		header := "# Generated from ../../prometheus/tocsin-rules.yml by\n" +
			"#   cd deploy && go test -run TestPrometheusRuleInSync -update\n" +
			"# Do not edit: edit the rules file, then regenerate.\n"
		if err := os.WriteFile(prometheusRuleFile, append([]byte(header), b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js, err := yaml.YAMLToJSON(readFile(t, prometheusRuleFile))
	if err != nil {
		t.Fatal(err)
	}
	var got monitoringv1.PrometheusRule
	if err := decodeStrict(js, &got); err != nil {
		t.Fatalf("%s: %v", prometheusRuleFile, err)
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("%s differs from %s: run `go test -run TestPrometheusRuleInSync -update` in deploy/", prometheusRuleFile, rulesFile)
	}
}

// TestNoPerCheckHistograms: what is shipped (rules, dashboard, manifests)
// never needs the opt-in per-check histograms (metrics.
// per_check_histograms), nor a quantile per check: they would cost a
// large estate 1.5 M series.
func TestNoPerCheckHistograms(t *testing.T) {
	t.Parallel()
	perCheck := regexp.MustCompile(`tocsin_probe_phase_duration_seconds|by \([^)]*\bcheck\b[^)]*\ble\b|by \(le, check\)`)
	for _, root := range []string{"prometheus", "kubernetes"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if m := perCheck.Find(b); m != nil {
				t.Errorf("%s uses a per-check histogram: %q", path, m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
