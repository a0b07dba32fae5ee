package deploy

// The policy points asserted on the decoded objects: non-root, read-only
// root filesystem, capabilities, seccomp, probes, resources, shutdown,
// spread, PDB, NetworkPolicy, ServiceMonitor, config mount.

import (
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// checkTocsin asserts the policy points on tocsin's objects, the same in the
// kustomize base, its overlay and the Helm chart: every Deployment (one per
// vantage in the chart) on its own, and the objects they share.
func checkTocsin(t *testing.T, m *manifests) {
	t.Helper()
	if len(m.deployments) == 0 {
		t.Fatal("no tocsin Deployment rendered")
	}
	var svc *corev1.Service
	for _, d := range m.deployments {
		svc = checkDeployment(t, m, d)
	}
	if svc == nil {
		return
	}
	var sms []*monitoringv1.ServiceMonitor
	for _, sm := range m.serviceMonitors {
		if selects(t, &sm.Spec.Selector, svc.Labels) {
			sms = append(sms, sm)
		}
	}
	if len(sms) != 1 {
		t.Fatalf("%d ServiceMonitors select the Service %s, want 1", len(sms), svc.Name)
	}
	sm := sms[0]
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name ||
		sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints = %+v, want port %q path /metrics", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
	// The alert rules select job="tocsin": the Service's name, or the
	// value of the Service label the ServiceMonitor names as jobLabel.
	job := svc.Name
	if sm.Spec.JobLabel != "" {
		job = svc.Labels[sm.Spec.JobLabel]
	}
	if job != "tocsin" {
		t.Errorf("ServiceMonitor %s: the scraped job label is %q, want \"tocsin\" (the alert rules select it)", sm.Name, job)
	}
	if len(m.prometheusRules) != 1 {
		t.Errorf("%d PrometheusRules, want 1", len(m.prometheusRules))
	}
}

// checkDeployment asserts the policy points on one Deployment and the
// objects that serve its pods, and returns the Service that selects them.
func checkDeployment(t *testing.T, m *manifests, d *appsv1.Deployment) *corev1.Service {
	t.Helper()
	pod := d.Spec.Template.Spec
	podLabels := d.Spec.Template.Labels
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 1 {
		t.Errorf("%s: replicas %v, want at least 1", d.Name, d.Spec.Replicas)
	}
	if !selects(t, d.Spec.Selector, podLabels) {
		t.Errorf("%s: selector does not match the pod template", d.Name)
	}
	for _, o := range m.deployments {
		if o != d && (selects(t, d.Spec.Selector, o.Spec.Template.Labels) || selects(t, o.Spec.Selector, podLabels)) {
			t.Errorf("%s and %s select each other's pods", d.Name, o.Name)
		}
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("%s: want a rolling update with maxUnavailable 0", d.Name)
	}
	checkPodSecurity(t, d.Name, pod)
	c := container(t, pod, "tocsin")
	checkContainerSecurity(t, d.Name, c)
	checkResources(t, d.Name, c)
	checkProbes(t, c)
	checkShutdown(t, pod, c)
	checkSpread(t, pod, podLabels)
	checkImage(t, c)
	checkConfigMount(t, m, pod, c)

	if pod.ServiceAccountName == "" {
		t.Errorf("%s: want a dedicated service account", d.Name)
	} else if sa := one(t, m.serviceAccounts, pod.ServiceAccountName); sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("service account: want automountServiceAccountToken false")
	}

	// One PodDisruptionBudget guards each Deployment of two or more
	// replicas, and no other Deployment's pods.
	var pdbs []*policyv1.PodDisruptionBudget
	for _, p := range m.pdbs {
		if selects(t, p.Spec.Selector, podLabels) {
			pdbs = append(pdbs, p)
		}
	}
	if replicas := int(*d.Spec.Replicas); replicas >= 2 {
		if len(pdbs) != 1 {
			t.Fatalf("%s: %d PDBs select its pods, want 1", d.Name, len(pdbs))
		}
		pdb := pdbs[0]
		// A percentage counts as the disruption controller counts it:
		// of the replicas, rounded up.
		minAvail := -1
		if pdb.Spec.MinAvailable != nil {
			if n, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, replicas, true); err == nil {
				minAvail = n
			}
		}
		if minAvail < 1 || minAvail >= replicas {
			t.Errorf("PDB %s minAvailable %v: want at least 1 and fewer than the %d replicas, so a drain can proceed", pdb.Name, pdb.Spec.MinAvailable, replicas)
		}
		for _, o := range m.deployments {
			if o != d && selects(t, pdb.Spec.Selector, o.Spec.Template.Labels) {
				t.Errorf("PDB %s also selects the pods of %s: a drain could take a whole vantage", pdb.Name, o.Name)
			}
		}
	} else if len(pdbs) != 0 {
		t.Errorf("%s: one replica, yet %d PDBs select it: they would block every drain", d.Name, len(pdbs))
	}

	var netpols []*networkingv1.NetworkPolicy
	for _, np := range m.netpols {
		if selects(t, &np.Spec.PodSelector, podLabels) {
			netpols = append(netpols, np)
		}
	}
	if len(netpols) != 1 {
		t.Fatalf("%s: %d NetworkPolicies select its pods, want 1", d.Name, len(netpols))
	}
	np := netpols[0]
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || len(np.Spec.Ingress) != 1 ||
		len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.String() != "http" {
		t.Errorf("NetworkPolicy %s: want ingress to the http port only, got %+v", np.Name, np.Spec.Ingress)
	}

	var svcs []*corev1.Service
	for _, svc := range m.services {
		if len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
			svcs = append(svcs, svc)
		}
	}
	if len(svcs) != 1 {
		t.Fatalf("%s: %d Services select its pods, want 1", d.Name, len(svcs))
	}
	checkServiceTargets(t, svcs[0], pod, podLabels)
	return svcs[0]
}

func checkPodSecurity(t *testing.T, name string, pod corev1.PodSpec) {
	t.Helper()
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("%s: pod securityContext must set runAsNonRoot and a non-zero runAsUser", name)
	}
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile must be RuntimeDefault", name)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: want automountServiceAccountToken false (no service-account token)", name)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Errorf("%s: host namespaces in use", name)
	}
}

func checkContainerSecurity(t *testing.T, name string, c *corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil {
		t.Fatalf("%s: container has no securityContext", name)
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	if !isTrue(sc.RunAsNonRoot) {
		t.Errorf("%s: want runAsNonRoot", name)
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Errorf("%s: want readOnlyRootFilesystem", name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || isTrue(sc.Privileged) {
		t.Errorf("%s: want allowPrivilegeEscalation false and not privileged", name)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("%s: want capabilities drop [ALL] and none added, got %+v", name, sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: want seccompProfile RuntimeDefault", name)
	}
}

func checkResources(t *testing.T, name string, c *corev1.Container) {
	t.Helper()
	r := c.Resources
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := r.Requests[res]; !ok || q.IsZero() {
			t.Errorf("%s: no %s request", name, res)
		}
	}
	lim, ok := r.Limits[corev1.ResourceMemory]
	if !ok || lim.Cmp(r.Requests[corev1.ResourceMemory]) < 0 {
		t.Errorf("%s: want a memory limit at or above the request", name)
	}
}

func checkProbes(t *testing.T, c *corev1.Container) {
	t.Helper()
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{
		{"startup", c.StartupProbe, "/healthz"},
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("tocsin: want an HTTP %s probe", p.what)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("tocsin: %s probe GET %s on %s, want %s on the http port", p.what, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" && p.ContainerPort == 8080 }) {
		t.Error("tocsin: want container port http 8080 (server.listen)")
	}
	// The startup probe must allow for loading the config and Redis'
	// dial timeout; liveness must not kill a busy process on one slow answer.
	if s := c.StartupProbe; s != nil && s.PeriodSeconds*s.FailureThreshold < 30 {
		t.Errorf("tocsin: startup probe allows %ds, want at least 30s", s.PeriodSeconds*s.FailureThreshold)
	}
	if l := c.LivenessProbe; l != nil && l.FailureThreshold < 3 {
		t.Errorf("tocsin: liveness failureThreshold %d, want at least 3", l.FailureThreshold)
	}
}

// shutdownContract is docs/operations.md's (Signals): tocsin exits within 10 s of SIGTERM
// (cmd/tocsin/daemon.go: an 8 s budget for in-flight work).
const shutdownContract = 10

func checkShutdown(t *testing.T, pod corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	var preStop int64
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if c.Lifecycle.PreStop.Sleep == nil {
			t.Error("tocsin: preStop must be a sleep action (the image has no shell)")
		} else {
			preStop = c.Lifecycle.PreStop.Sleep.Seconds
		}
	}
	g := pod.TerminationGracePeriodSeconds
	if g == nil {
		t.Fatal("tocsin: terminationGracePeriodSeconds unset")
	}
	// Room for the preStop sleep and the whole shutdown, but not so much
	// that a hung process holds a rollout for long.
	if *g <= preStop+shutdownContract || *g > preStop+shutdownContract+15 {
		t.Errorf("tocsin: terminationGracePeriodSeconds %d, want a little above preStop %ds + shutdown %ds", *g, preStop, shutdownContract)
	}
}

func checkSpread(t *testing.T, pod corev1.PodSpec, podLabels map[string]string) {
	t.Helper()
	keys := map[string]bool{}
	for _, c := range pod.TopologySpreadConstraints {
		if !selects(t, c.LabelSelector, podLabels) {
			t.Errorf("tocsin: topology spread on %s does not select tocsin's pods", c.TopologyKey)
		}
		keys[c.TopologyKey] = true
	}
	for _, k := range []string{"kubernetes.io/hostname", "topology.kubernetes.io/zone"} {
		if !keys[k] {
			t.Errorf("tocsin: no topology spread constraint on %s", k)
		}
	}
}

func checkImage(t *testing.T, c *corev1.Container) {
	t.Helper()
	name, tag, ok := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":")
	if !ok || tag == "" || tag == "latest" || name != "tocsin" {
		t.Errorf("tocsin: image %q, want a tocsin image with a pinned tag (kustomization images:)", c.Image)
	}
}

// checkConfigMount: the --config file is a key of the tocsin ConfigMap,
// mounted as a directory (a subPath mount would never update, so hot reload
// would not work), and every file the config names is mounted.
func checkConfigMount(t *testing.T, m *manifests, pod corev1.PodSpec, c *corev1.Container) {
	t.Helper()
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("tocsin: args %q, want --config FILE", c.Args)
	}
	path := c.Args[i+1]
	dir, file := path[:strings.LastIndex(path, "/")], path[strings.LastIndex(path, "/")+1:]
	var vm *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].MountPath == dir {
			vm = &c.VolumeMounts[i]
		}
	}
	if vm == nil || vm.SubPath != "" || !vm.ReadOnly {
		t.Fatalf("tocsin: %s is not a read-only directory mount without subPath", dir)
	}
	v := volume(t, pod, vm.Name)
	if v.ConfigMap == nil {
		t.Fatalf("tocsin: volume %s is not a ConfigMap", vm.Name)
	}
	cm := one(t, m.configMaps, v.ConfigMap.Name)
	cfg, ok := cm.Data[file]
	if !ok {
		t.Fatalf("tocsin: ConfigMap %s has no key %s", cm.Name, file)
	}
	for _, ref := range etcPaths(cfg) {
		if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return strings.HasPrefix(ref, vm.MountPath+"/") }) {
			t.Errorf("tocsin: the config names %s, which no volume mount provides", ref)
		}
	}
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("tocsin: volume mount %s is writable", vm.MountPath)
		}
		if v := volume(t, pod, vm.Name); v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
			t.Errorf("tocsin: Secret volume %s is readable by others (defaultMode %v)", vm.Name, v.Secret.DefaultMode)
		}
	}
}

// etcPaths returns the /etc/tocsin/... paths a config file names outside
// its comments.
func etcPaths(cfg string) []string {
	var out []string
	for _, line := range strings.Split(cfg, "\n") {
		if i := strings.Index(line, "#"); i >= 0 && (i == 0 || line[i-1] == ' ') {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			f = strings.Trim(f, `"',{}[]`)
			if strings.HasPrefix(f, "/etc/tocsin/") {
				out = append(out, f)
			}
		}
	}
	return out
}

// checkServiceTargets: the Service selects the pods and its ports name
// container ports that exist.
func checkServiceTargets(t *testing.T, svc *corev1.Service, pod corev1.PodSpec, podLabels map[string]string) {
	t.Helper()
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(podLabels)) {
		t.Errorf("Service %s does not select its pods", svc.Name)
	}
	for _, p := range svc.Spec.Ports {
		found := false
		for _, c := range pod.Containers {
			found = found || slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.Name == p.TargetPort.String() })
		}
		if !found {
			t.Errorf("Service %s: targetPort %s is no container port", svc.Name, p.TargetPort.String())
		}
	}
}
