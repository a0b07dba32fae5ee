package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// manifests is a kustomization rendered and decoded into the Kubernetes
// types, by kind.
type manifests struct {
	deployments     []*appsv1.Deployment
	statefulSets    []*appsv1.StatefulSet
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	pdbs            []*policyv1.PodDisruptionBudget
	netpols         []*networkingv1.NetworkPolicy
	serviceMonitors []*monitoringv1.ServiceMonitor
	prometheusRules []*monitoringv1.PrometheusRule
}

// decodeStrict decodes JSON into v like the API server does: field names
// match case-sensitively, and an unknown or duplicate field is an error.
func decodeStrict(data []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(data, v, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("strict decoding: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// add decodes one rendered object into the type of its kind; a kind the
// test does not know is an error, so nothing goes unchecked.
func (m *manifests) add(gvk string, data []byte) error {
	var obj any
	switch gvk {
	case "apps/v1/Deployment":
		o := new(appsv1.Deployment)
		m.deployments, obj = append(m.deployments, o), o
	case "apps/v1/StatefulSet":
		o := new(appsv1.StatefulSet)
		m.statefulSets, obj = append(m.statefulSets, o), o
	case "v1/Service":
		o := new(corev1.Service)
		m.services, obj = append(m.services, o), o
	case "v1/ConfigMap":
		o := new(corev1.ConfigMap)
		m.configMaps, obj = append(m.configMaps, o), o
	case "v1/Secret":
		o := new(corev1.Secret)
		m.secrets, obj = append(m.secrets, o), o
	case "v1/ServiceAccount":
		o := new(corev1.ServiceAccount)
		m.serviceAccounts, obj = append(m.serviceAccounts, o), o
	case "policy/v1/PodDisruptionBudget":
		o := new(policyv1.PodDisruptionBudget)
		m.pdbs, obj = append(m.pdbs, o), o
	case "networking.k8s.io/v1/NetworkPolicy":
		o := new(networkingv1.NetworkPolicy)
		m.netpols, obj = append(m.netpols, o), o
	case "monitoring.coreos.com/v1/ServiceMonitor":
		o := new(monitoringv1.ServiceMonitor)
		m.serviceMonitors, obj = append(m.serviceMonitors, o), o
	case "monitoring.coreos.com/v1/PrometheusRule":
		o := new(monitoringv1.PrometheusRule)
		m.prometheusRules, obj = append(m.prometheusRules, o), o
	default:
		return fmt.Errorf("kind %s has no decoder in this test: add one", gvk)
	}
	return decodeStrict(data, obj)
}

// render builds a kustomization through kustomize's Go API (what
// `kubectl apply -k` runs) and decodes every object strictly.
func render(t *testing.T, dir string) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifests{}
	for _, r := range rm.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %s: %v", dir, r.CurId(), err)
		}
		gvk := r.GetGvk()
		key := gvk.Kind
		if gvk.Group != "" {
			key = gvk.Group + "/" + gvk.Version + "/" + key
		} else {
			key = gvk.Version + "/" + key
		}
		if err := m.add(key, data); err != nil {
			t.Errorf("%s: %s %s: %v", dir, key, r.GetName(), err)
		}
	}
	return m
}

func TestKustomizeBase(t *testing.T) {
	t.Parallel()
	m := render(t, baseDir)
	checkTocsin(t, m)
	checkTwoReplicas(t, m)
	if len(m.statefulSets) != 0 || len(m.secrets) != 0 {
		t.Errorf("base: %d StatefulSets, %d Secrets; want none (external Redis, secrets created by the user)", len(m.statefulSets), len(m.secrets))
	}
	// The base mounts a Secret the user creates, under its plain name.
	d := one(t, m.deployments, "tocsin")
	if v := volume(t, d.Spec.Template.Spec, "redis"); v.Secret == nil || v.Secret.SecretName != "tocsin-redis" {
		t.Errorf("base: volume redis = %+v, want the Secret tocsin-redis", v.VolumeSource)
	}
}

func TestKustomizeRedisOverlay(t *testing.T) {
	t.Parallel()
	m := render(t, overlayDir)
	checkTocsin(t, m)
	checkTwoReplicas(t, m)

	ss := one(t, m.statefulSets, "tocsin-redis")
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas != 1 {
		t.Errorf("redis: replicas %v, want 1", ss.Spec.Replicas)
	}
	pod := ss.Spec.Template.Spec
	checkPodSecurity(t, "redis", pod)
	c := container(t, pod, "redis")
	checkContainerSecurity(t, "redis", c)
	checkResources(t, "redis", c)
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.StartupProbe == nil {
		t.Error("redis: want liveness, readiness and startup probes")
	}
	args := strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
	for _, want := range []string{"redis-server", "--appendonly yes", "--appendfsync everysec", "--dir /data", "--maxmemory-policy noeviction"} {
		if !strings.Contains(args, want) {
			t.Errorf("redis: command %q lacks %q", args, want)
		}
	}
	// The append-only file lives on a PersistentVolumeClaim mounted at --dir.
	if len(ss.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("redis: %d volumeClaimTemplates, want 1", len(ss.Spec.VolumeClaimTemplates))
	}
	pvc := ss.Spec.VolumeClaimTemplates[0]
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.IsZero() {
		t.Error("redis: the PVC requests no storage")
	}
	if mountPath(c, pvc.Name) != "/data" {
		t.Errorf("redis: PVC %q is not mounted at /data", pvc.Name)
	}

	// tocsin reaches Redis through the governing Service, by the URL in the
	// generated Secret, which the Deployment's redis volume now names.
	svc := one(t, m.services, "tocsin-redis")
	if svc.Name != ss.Spec.ServiceName {
		t.Errorf("redis: serviceName %q, Service %q", ss.Spec.ServiceName, svc.Name)
	}
	checkServiceTargets(t, svc, pod, ss.Spec.Template.Labels)
	if len(m.secrets) != 1 {
		t.Fatalf("overlay: %d Secrets, want the generated tocsin-redis", len(m.secrets))
	}
	sec := m.secrets[0]
	if !strings.HasPrefix(sec.Name, "tocsin-redis-") {
		t.Errorf("overlay: Secret %q, want tocsin-redis-<hash>", sec.Name)
	}
	if got, want := string(sec.Data["url"]), "redis://tocsin-redis:6379/0"; got != want {
		t.Errorf("overlay: Secret url = %q, want %q", got, want)
	}
	d := one(t, m.deployments, "tocsin")
	if v := volume(t, d.Spec.Template.Spec, "redis"); v.Secret == nil || v.Secret.SecretName != sec.Name {
		t.Errorf("overlay: volume redis = %+v, want the generated Secret %s", v.VolumeSource, sec.Name)
	}

	// Only tocsin's pods may reach Redis.
	np := one(t, m.netpols, "tocsin-redis")
	if !selects(t, &np.Spec.PodSelector, ss.Spec.Template.Labels) {
		t.Error("redis NetworkPolicy does not select the Redis pods")
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 || np.Spec.Ingress[0].From[0].PodSelector == nil {
		t.Fatalf("redis NetworkPolicy ingress = %+v, want one rule from tocsin's pods", np.Spec.Ingress)
	}
	from := np.Spec.Ingress[0].From[0].PodSelector
	if !selects(t, from, d.Spec.Template.Labels) || selects(t, from, ss.Spec.Template.Labels) {
		t.Error("redis NetworkPolicy: want ingress from tocsin's pods only")
	}
	if sel := d.Spec.Selector; selects(t, sel, ss.Spec.Template.Labels) {
		t.Error("tocsin's Deployment selector also selects the Redis pods")
	}
}

// checkTwoReplicas: what is shipped runs one Deployment of two replicas,
// which survives a node drain.
func checkTwoReplicas(t *testing.T, m *manifests) {
	t.Helper()
	if len(m.deployments) != 1 || m.deployments[0].Spec.Replicas == nil || *m.deployments[0].Spec.Replicas != 2 {
		t.Errorf("%d Deployments; want one, of 2 replicas", len(m.deployments))
	}
}

// TestKustomizeSentinelOverlay: the base pointed at a Redis run with
// Sentinel, through the URL of the Secret it generates.
func TestKustomizeSentinelOverlay(t *testing.T) {
	t.Parallel()
	m := render(t, sentinelDir)
	checkTocsin(t, m)
	checkTwoReplicas(t, m)
	if len(m.secrets) != 1 || !strings.HasPrefix(string(m.secrets[0].Data["url"]), "redis+sentinel://") {
		t.Fatalf("sentinel overlay: %d Secrets; want one with a redis+sentinel:// url", len(m.secrets))
	}
	d := one(t, m.deployments, "tocsin")
	if v := volume(t, d.Spec.Template.Spec, "redis"); v.Secret == nil || v.Secret.SecretName != m.secrets[0].Name {
		t.Errorf("sentinel overlay: volume redis = %+v, want the generated Secret %s", v.VolumeSource, m.secrets[0].Name)
	}
}

func one[T interface{ GetName() string }](t *testing.T, objs []T, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %T named %q among %d rendered", *new(T), name, len(objs))
	var zero T
	return zero
}

func container(t *testing.T, pod corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range pod.Containers {
		if pod.Containers[i].Name == name {
			return &pod.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

func volume(t *testing.T, pod corev1.PodSpec, name string) *corev1.Volume {
	t.Helper()
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	t.Fatalf("no volume %q", name)
	return nil
}

func mountPath(c *corev1.Container, volume string) string {
	for _, vm := range c.VolumeMounts {
		if vm.Name == volume {
			return vm.MountPath
		}
	}
	return ""
}

func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("label selector %+v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}
