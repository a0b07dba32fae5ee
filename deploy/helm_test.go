package deploy

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	kyaml "sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/yaml"
)

const (
	chartDir          = "helm/tocsin"
	chartVantagesFile = chartDir + "/ci/vantages-values.yaml"
	chartSentinelFile = chartDir + "/ci/sentinel-values.yaml"
	chartRulesFile    = chartDir + "/files/tocsin-rules.yml"
	// The Kubernetes version the chart is rendered for: a recent one, as
	// `helm template --kube-version` would be told.
	chartKubeVersion = "v1.34.0"
)

// operatorAPIs are what a cluster with the Prometheus Operator serves.
var operatorAPIs = []string{"monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PrometheusRule"}

// chartRender is how one rendering is asked for.
type chartRender struct {
	valueFiles  []string
	set         []string // --set KEY=VALUE
	setString   []string // --set-string KEY=VALUE
	apiVersions []string // beyond the built-in ones
	kubeVersion string
}

// renderChartText renders the chart as `helm template` does, through the
// Helm SDK, and returns the manifest text.
func renderChartText(r chartRender) (string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", fmt.Errorf("load chart: %w", err)
	}
	opts := values.Options{ValueFiles: r.valueFiles, Values: r.set, StringValues: r.setString}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return "", fmt.Errorf("values: %w", err)
	}
	cfg := action.NewConfiguration()
	cfg.SetLogger(slog.DiscardHandler)
	inst := action.NewInstall(cfg)
	inst.DryRunStrategy = action.DryRunClient
	inst.ReleaseName = "tocsin"
	inst.Namespace = "monitoring"
	inst.Replace = true
	inst.APIVersions = common.VersionSet(r.apiVersions)
	kv := r.kubeVersion
	if kv == "" {
		kv = chartKubeVersion
	}
	if inst.KubeVersion, err = common.ParseKubeVersion(kv); err != nil {
		return "", err
	}
	out, err := inst.Run(chrt, vals)
	if err != nil {
		return "", err
	}
	rel, ok := out.(*releasev1.Release)
	if !ok {
		return "", fmt.Errorf("install returned a %T", out)
	}
	return rel.Manifest, nil
}

// renderChart renders the chart and decodes every object strictly into
// the Kubernetes types, as render does for the kustomize base.
func renderChart(t *testing.T, r chartRender) *manifests {
	t.Helper()
	text, err := renderChartText(r)
	if err != nil {
		t.Fatalf("helm template %s %v: %v", chartDir, r.valueFiles, err)
	}
	nodes, err := (&kyaml.ByteReader{Reader: strings.NewReader(text), OmitReaderAnnotations: true}).Read()
	if err != nil {
		t.Fatalf("rendered chart: %v", err)
	}
	m := &manifests{}
	for _, n := range nodes {
		// Each document is read as the Kubernetes client reads it
		// (sigs.k8s.io/yaml, YAML 1.1: an unquoted no is false).
		text, err := n.String()
		if err != nil {
			t.Fatalf("%s: %v", n.GetName(), err)
		}
		data, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", n.GetName(), err)
		}
		if err := m.add(n.GetApiVersion()+"/"+n.GetKind(), data); err != nil {
			t.Errorf("chart: %s %s: %v", n.GetKind(), n.GetName(), err)
		}
	}
	return m
}

// TestHelmChartDefaults: with its defaults the chart renders the objects of
// the kustomize base, held to the same policy, with the same config.
func TestHelmChartDefaults(t *testing.T) {
	t.Parallel()
	m := renderChart(t, chartRender{apiVersions: operatorAPIs})
	checkTocsin(t, m)
	checkTwoReplicas(t, m)
	if len(m.secrets) != 0 {
		t.Errorf("defaults: %d Secrets, want none (created by the user, as with the base)", len(m.secrets))
	}
	d := m.deployments[0]
	if d.Name != "tocsin" || slices.ContainsFunc(container(t, d.Spec.Template.Spec, "tocsin").Env, isVantageEnv) {
		t.Errorf("defaults: Deployment %q with env %v; want tocsin, no vantage", d.Name, container(t, d.Spec.Template.Spec, "tocsin").Env)
	}

	// The same config as the base's ConfigMap.
	base := render(t, baseDir)
	got, want := decodeYAML(t, one(t, m.configMaps, "tocsin").Data["tocsin.yml"]), decodeYAML(t, one(t, base.configMaps, "tocsin").Data["tocsin.yml"])
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("the chart's default config differs from %s/tocsin.yml:\n%s", baseDir, yamlDiff(t, got, want))
	}
	// The same pod, but for the labels Helm adds.
	bd := one(t, base.deployments, "tocsin")
	if gotPod, wantPod := podWithoutLabels(d.Spec.Template.Spec), podWithoutLabels(bd.Spec.Template.Spec); !equality.Semantic.DeepEqual(gotPod, wantPod) {
		t.Errorf("the chart's pod differs from the base's:\n%s", yamlDiff(t, gotPod, wantPod))
	}
	if !equality.Semantic.DeepEqual(m.prometheusRules[0].Spec, ruleFile(t)) {
		t.Errorf("the chart's PrometheusRule differs from %s", rulesFile)
	}
}

// TestHelmChartVantages: three vantages give three Deployments, each with
// its vantage in TOCSIN_VANTAGE, its own scheduling and its own PDB, behind
// one Service; the Secrets the values ask for are made and mounted.
func TestHelmChartVantages(t *testing.T) {
	t.Parallel()
	m := renderChart(t, chartRender{valueFiles: []string{chartVantagesFile}})
	checkTocsin(t, m)
	// The config declares the vantages, or every replica refuses it.
	cfg := decodeYAML(t, one(t, m.configMaps, "tocsin").Data["tocsin.yml"])
	if got := fmt.Sprint(cfg.(map[string]any)["vantages"]); got != "[eu-west us-east ap-south]" {
		t.Errorf("config vantages %s, want the three of the values", got)
	}
	want := map[string]struct {
		replicas int32
		region   string
	}{"eu-west": {2, "eu-west-1"}, "us-east": {3, "us-east-1"}, "ap-south": {2, "ap-south-1"}}
	if len(m.deployments) != len(want) {
		t.Fatalf("%d Deployments, want %d", len(m.deployments), len(want))
	}
	for _, d := range m.deployments {
		vantage := strings.TrimPrefix(d.Name, "tocsin-")
		w, ok := want[vantage]
		if !ok {
			t.Errorf("unexpected Deployment %s", d.Name)
			continue
		}
		c := container(t, d.Spec.Template.Spec, "tocsin")
		if i := slices.IndexFunc(c.Env, isVantageEnv); i < 0 || c.Env[i].Value != vantage {
			t.Errorf("%s: env %v, want TOCSIN_VANTAGE=%s", d.Name, c.Env, vantage)
		}
		if *d.Spec.Replicas != w.replicas || d.Spec.Template.Spec.NodeSelector["topology.kubernetes.io/region"] != w.region {
			t.Errorf("%s: %d replicas on %v, want %d on region %s", d.Name, *d.Spec.Replicas, d.Spec.Template.Spec.NodeSelector, w.replicas, w.region)
		}
		if got := len(d.Spec.Template.Spec.Tolerations); (vantage == "ap-south") != (got == 1) {
			t.Errorf("%s: %d tolerations", d.Name, got)
		}
		one(t, m.pdbs, d.Name)
	}
	for _, name := range []string{"tocsin", "tocsin-redis"} {
		sec := one(t, m.secrets, name)
		if len(sec.StringData) == 0 {
			t.Errorf("Secret %s is empty", name)
		}
	}
	if got := one(t, m.secrets, "tocsin-redis").StringData["url"]; got != "redis://:example-password@redis.example:6379/0" {
		t.Errorf("Secret tocsin-redis url = %q", got)
	}
	if got := one(t, m.serviceMonitors, "tocsin").Labels["release"]; got != "prometheus" {
		t.Errorf("ServiceMonitor label release = %q, want the one the values add", got)
	}
}

// TestHelmChartSentinel: the chart pointed at a Redis run with Sentinel
// keeps the policy, and mounts the URL the values give; the real binary
// accepts it (TestExampleConfigValidates runs it on the same URL shape).
func TestHelmChartSentinel(t *testing.T) {
	t.Parallel()
	m := renderChart(t, chartRender{valueFiles: []string{chartSentinelFile}, apiVersions: operatorAPIs})
	checkTocsin(t, m)
	checkTwoReplicas(t, m)
	url := one(t, m.secrets, "tocsin-redis").StringData["url"]
	if !strings.HasPrefix(url, "redis+sentinel://") {
		t.Errorf("Secret tocsin-redis url = %q, want the redis+sentinel:// URL of the values", url)
	}
	bin := imageBinary(t).bin
	dir := t.TempDir()
	cfg := fmt.Sprintf("redis: {url: %q}\n", url)
	file := filepath.Join(dir, "tocsin.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "--config", file)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), "change-me") {
		t.Errorf("tocsin validate of the chart's Sentinel URL: %v\n%s", err, out)
	}
}

// TestHelmChartLabelsAndPercentages: an image tag with build metadata
// makes a valid version label, and the PDB takes a percentage.
func TestHelmChartLabelsAndPercentages(t *testing.T) {
	t.Parallel()
	m := renderChart(t, chartRender{setString: []string{"image.tag=v1.2.3+build.7", "podDisruptionBudget.minAvailable=50%"}, apiVersions: operatorAPIs})
	checkTocsin(t, m)
	d := one(t, m.deployments, "tocsin")
	if got := d.Labels["app.kubernetes.io/version"]; got != "v1.2.3_build.7" {
		t.Errorf("version label %q, want v1.2.3_build.7", got)
	}
	if got := one(t, m.pdbs, "tocsin").Spec.MinAvailable.String(); got != "50%" {
		t.Errorf("PDB minAvailable %s, want 50%%", got)
	}
}

// TestHelmChartVantageNames: a vantage named like a YAML 1.1 boolean
// stays a string in its labels, its environment and the config.
func TestHelmChartVantageNames(t *testing.T) {
	t.Parallel()
	m := renderChart(t, chartRender{setString: []string{"vantages[0].name=no", "vantages[1].name=on", "vantages[2].name=y"}, apiVersions: operatorAPIs})
	checkTocsin(t, m)
	cfg := decodeYAML(t, one(t, m.configMaps, "tocsin").Data["tocsin.yml"])
	if got := fmt.Sprintf("%#v", cfg.(map[string]any)["vantages"]); got != `[]interface {}{"no", "on", "y"}` {
		t.Errorf("config vantages %s, want the three names as strings", got)
	}
	for _, d := range m.deployments {
		v := d.Spec.Template.Labels["tocsin/vantage"]
		if d.Name != "tocsin-"+v || v == "" {
			t.Errorf("%s: label tocsin/vantage %q", d.Name, v)
		}
	}
}

func isVantageEnv(e corev1.EnvVar) bool { return e.Name == "TOCSIN_VANTAGE" }

// TestHelmChartOperatorAuto: the Prometheus Operator's objects are made
// only where the cluster serves them, unless asked for.
func TestHelmChartOperatorAuto(t *testing.T) {
	t.Parallel()
	m := renderChart(t, chartRender{})
	if len(m.serviceMonitors)+len(m.prometheusRules) != 0 {
		t.Errorf("without the Operator's API: %d ServiceMonitors, %d PrometheusRules; want none", len(m.serviceMonitors), len(m.prometheusRules))
	}
	m = renderChart(t, chartRender{set: []string{"serviceMonitor.enabled=false"}, apiVersions: operatorAPIs})
	if len(m.serviceMonitors) != 0 || len(m.prometheusRules) != 1 {
		t.Errorf("serviceMonitor.enabled=false: %d ServiceMonitors, %d PrometheusRules; want 0 and 1", len(m.serviceMonitors), len(m.prometheusRules))
	}
}

// TestHelmChartBadValues: a mistaken value fails the render with an error
// that names it, and renders nothing.
func TestHelmChartBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		r    chartRender
		want string
	}{
		{"unknown key", chartRender{set: []string{"replica=3"}}, "replica"},
		{"replicas not a number", chartRender{set: []string{"replicas=two"}}, "replicas"},
		{"zero replicas", chartRender{set: []string{"replicas=0"}}, "replicas"},
		{"vantage not a DNS label", chartRender{set: []string{"vantages[0].name=EU_West"}}, "vantages"},
		{"vantage not starting with a letter", chartRender{setString: []string{"vantages[0].name=1e3"}}, "vantages"},
		{"vantage twice", chartRender{set: []string{"vantages[0].name=eu", "vantages[1].name=eu"}}, `"eu" is named twice`},
		{"no Secret named", chartRender{set: []string{"secrets.existingSecret="}}, "secrets.existingSecret or secrets.data is required"},
		{"bad Redis URL", chartRender{set: []string{"redis.url=localhost:6379"}}, "/redis/url"},
		{"serviceMonitor.enabled typo", chartRender{set: []string{"serviceMonitor.enabled=yes"}}, "/serviceMonitor/enabled"},
		{"old Kubernetes", chartRender{kubeVersion: "v1.30.0"}, "kubeVersion"},
		{"PDB percentage out of range", chartRender{setString: []string{"podDisruptionBudget.minAvailable=150%"}}, "/podDisruptionBudget/minAvailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := renderChartText(tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v, want an error naming %q", err, tc.want)
			}
			if text != "" {
				t.Errorf("render gave %d bytes along with the error", len(text))
			}
		})
	}
}

// TestHelmChartLint runs `helm lint`'s checks through the SDK, with the
// defaults and with the vantages file; anything above INFO fails.
func TestHelmChartLint(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"", chartVantagesFile} {
		vals := map[string]any{}
		if file != "" {
			v, err := common.ReadValuesFile(file)
			if err != nil {
				t.Fatal(err)
			}
			vals = v
		}
		res := lint.RunAll(chartDir, vals, "monitoring", lint.WithKubeVersion(mustKubeVersion(t, chartKubeVersion)))
		for _, msg := range res.Messages {
			if msg.Severity > support.InfoSev {
				t.Errorf("helm lint %s: %s", file, msg)
			}
		}
	}
}

// TestHelmChartRulesInSync: the chart's copy of the rules is the file
// promtool tests. -update copies it.
func TestHelmChartRulesInSync(t *testing.T) {
	t.Parallel()
	want := readFile(t, rulesFile)
	if *update {
		if err := os.WriteFile(chartRulesFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(readFile(t, chartRulesFile), want) {
		t.Errorf("%s differs from %s: run `go test -run TestHelmChartRulesInSync -update` in deploy/", chartRulesFile, rulesFile)
	}
}

func mustKubeVersion(t *testing.T, v string) *common.KubeVersion {
	t.Helper()
	kv, err := common.ParseKubeVersion(v)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func decodeYAML(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// podWithoutLabels is a pod spec without the label selectors in it, which
// differ between the chart and the base by the labels Helm adds.
func podWithoutLabels(p corev1.PodSpec) corev1.PodSpec {
	p = *p.DeepCopy()
	for i := range p.TopologySpreadConstraints {
		p.TopologySpreadConstraints[i].LabelSelector = nil
	}
	return p
}

// yamlDiff shows the lines of got's YAML that want's lacks (-) and the
// reverse (+): enough to see where two objects differ.
func yamlDiff(t *testing.T, got, want any) string {
	t.Helper()
	lines := func(v any) []string {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	g, w := lines(got), lines(want)
	var out []string
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
