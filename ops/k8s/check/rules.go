package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	nameLabel      = "app.kubernetes.io/name"
	componentLabel = "app.kubernetes.io/component"
	// The orchestrator's default SHUTDOWN_GRACE (README) and Kubernetes'
	// default terminationGracePeriodSeconds.
	defaultShutdownGrace = "25s"
	defaultGraceSeconds  = 30
)

// The settings that may come from a file named by NAME_FILE; setting both
// forms stops the node (README "Configuration").
var secretSettings = []string{"DATABASE_URL", "DATABASE_PASSWORD", "CLUSTER_SECRET", "REDIS_URL"}

// setting is one environment variable as a container would see it; known is
// false when its value comes from a Secret, the downward API or a resource.
type setting struct {
	value string
	known bool
}

type checker struct {
	set         *manifestSet
	problems    []problem
	namespaces  map[string]*object
	configMaps  map[string]*object
	secrets     map[string]*object
	deployments []*object
}

func checkRules(set *manifestSet) []problem {
	c := &checker{set: set, namespaces: map[string]*object{}, configMaps: map[string]*object{},
		secrets: map[string]*object{}}
	c.index()
	for _, o := range set.objects {
		if o.broken {
			continue
		}
		c.checkMetadata(o)
		switch v := o.value.(type) {
		case *appsv1.Deployment:
			c.checkDeployment(o, v)
		case *corev1.Service:
			c.checkService(o, v)
		case *policyv1.PodDisruptionBudget:
			c.checkPDB(o, v)
		case *networkingv1.NetworkPolicy:
			c.checkNetworkPolicy(o, v)
		}
	}
	c.checkKustomizations()
	return c.problems
}

func (c *checker) add(o *object, format string, args ...any) {
	c.problems = append(c.problems, problem{file: o.file, line: o.line, what: o.String(),
		msg: fmt.Sprintf(format, args...)})
}

func (c *checker) index() {
	seen := map[string]*object{}
	for _, o := range c.set.objects {
		id := o.kind + " " + o.namespace + "/" + o.name
		if first, dup := seen[id]; dup {
			c.add(o, "defined twice (also at %s:%d)", first.file, first.line)
			continue
		}
		seen[id] = o
		switch o.kind {
		case "Namespace":
			c.namespaces[o.name] = o
		case "ConfigMap":
			c.configMaps[o.namespace+"/"+o.name] = o
		case "Secret":
			c.secrets[o.namespace+"/"+o.name] = o
		case "Deployment":
			c.deployments = append(c.deployments, o)
		}
	}
}

func (c *checker) checkMetadata(o *object) {
	meta := o.value.(metav1.Object)
	if o.kind != "Namespace" {
		switch {
		case o.namespace == "":
			c.add(o, "metadata.namespace is not set: kubectl apply would use the current context's namespace")
		case c.namespaces[o.namespace] == nil:
			c.add(o, "metadata.namespace %q is not a Namespace these manifests define", o.namespace)
		}
	}
	c.checkLabels(o, "metadata.labels", meta.GetLabels())
	if meta.GetLabels()[nameLabel] == "" {
		c.add(o, "metadata.labels has no %s", nameLabel)
	}
}

func (c *checker) checkLabels(o *object, field string, set map[string]string) {
	for _, k := range sortedKeys(set) {
		for _, e := range validation.IsQualifiedName(k) {
			c.add(o, "%s key %q: %s", field, k, e)
		}
		for _, e := range validation.IsValidLabelValue(set[k]) {
			c.add(o, "%s[%s]=%q: %s", field, k, set[k], e)
		}
	}
}

// selector converts a required, non-empty label selector.
func (c *checker) selector(o *object, field string, ls *metav1.LabelSelector) (labels.Selector, bool) {
	if ls == nil || (len(ls.MatchLabels) == 0 && len(ls.MatchExpressions) == 0) {
		c.add(o, "%s is empty: it would select every pod of the namespace", field)
		return nil, false
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		c.add(o, "%s: %v", field, err)
		return nil, false
	}
	return s, true
}

func templateLabels(d *object) labels.Set {
	return labels.Set(d.value.(*appsv1.Deployment).Spec.Template.Labels)
}

// matching returns the Deployments of a namespace whose pods a selector
// selects. Broken ones count: a type error leaves the rest of an object
// decoded, and one error must not make every Service that selects it look
// wrong too.
func (c *checker) matching(namespace string, s labels.Selector) []*object {
	var out []*object
	for _, d := range c.deployments {
		if d.namespace == namespace && s.Matches(templateLabels(d)) {
			out = append(out, d)
		}
	}
	return out
}

func names(objs []*object) string {
	var s []string
	for _, o := range objs {
		s = append(s, o.String())
	}
	return strings.Join(s, ", ")
}

func (c *checker) checkDeployment(o *object, d *appsv1.Deployment) {
	tmpl := d.Spec.Template.Labels
	c.checkLabels(o, "spec.template.metadata.labels", tmpl)
	for _, k := range []string{nameLabel, componentLabel} {
		if tmpl[k] == "" {
			c.add(o, "spec.template.metadata.labels has no %s", k)
		}
	}
	if sel, ok := c.selector(o, "spec.selector", d.Spec.Selector); ok {
		if !sel.Matches(labels.Set(tmpl)) {
			c.add(o, "spec.selector (%s) does not match the pod template's labels (%s)",
				sel, labels.Set(tmpl))
		}
		for _, other := range c.matching(o.namespace, sel) {
			if other != o && !other.broken {
				c.add(o, "spec.selector (%s) also selects the pods of %s: the two would fight over them",
					sel, other)
			}
		}
	}
	c.checkPod(o, &d.Spec.Template.Spec, labels.Set(tmpl))
}

func (c *checker) checkPod(o *object, spec *corev1.PodSpec, tmpl labels.Set) {
	volumes := map[string]*corev1.Volume{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if volumes[v.Name] != nil {
			c.add(o, "volume %q is defined twice", v.Name)
		}
		volumes[v.Name] = v
		c.checkVolume(o, v)
	}
	for i, t := range spec.TopologySpreadConstraints {
		if t.LabelSelector == nil {
			continue
		}
		if s, err := metav1.LabelSelectorAsSelector(t.LabelSelector); err != nil {
			c.add(o, "topologySpreadConstraints[%d].labelSelector: %v", i, err)
		} else if !s.Matches(tmpl) {
			c.add(o, "topologySpreadConstraints[%d].labelSelector (%s) does not match the pod template's labels: it would spread other pods", i, s)
		}
	}
	if len(spec.Containers) == 0 {
		c.add(o, "the pod template has no containers")
	}
	grace := int64(defaultGraceSeconds)
	if spec.TerminationGracePeriodSeconds != nil {
		grace = *spec.TerminationGracePeriodSeconds
	}
	for i := range spec.InitContainers {
		c.checkContainer(o, spec, volumes, &spec.InitContainers[i], true, grace)
	}
	for i := range spec.Containers {
		c.checkContainer(o, spec, volumes, &spec.Containers[i], false, grace)
	}
}

func optional(b *bool) bool { return b != nil && *b }

func (c *checker) checkVolume(o *object, v *corev1.Volume) {
	where := fmt.Sprintf("volume %q", v.Name)
	switch {
	case v.Secret != nil:
		c.checkRef(o, where, "Secret", v.Secret.SecretName, optional(v.Secret.Optional), itemKeys(v.Secret.Items))
	case v.ConfigMap != nil:
		c.checkRef(o, where, "ConfigMap", v.ConfigMap.Name, optional(v.ConfigMap.Optional), itemKeys(v.ConfigMap.Items))
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if src.Secret != nil {
				c.checkRef(o, where, "Secret", src.Secret.Name, optional(src.Secret.Optional), itemKeys(src.Secret.Items))
			}
			if src.ConfigMap != nil {
				c.checkRef(o, where, "ConfigMap", src.ConfigMap.Name, optional(src.ConfigMap.Optional), itemKeys(src.ConfigMap.Items))
			}
		}
	}
}

func itemKeys(items []corev1.KeyToPath) []string {
	var keys []string
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	return keys
}

// target finds the ConfigMap or Secret a reference names; nil when it is not
// defined or did not decode.
func (c *checker) target(o *object, kind, name string) (t *object, defined bool) {
	objs := c.configMaps
	if kind == "Secret" {
		objs = c.secrets
	}
	t = objs[o.namespace+"/"+name]
	if t == nil {
		return nil, false
	}
	if t.broken {
		return nil, true
	}
	return t, true
}

func dataKeys(t *object) map[string]bool {
	keys := map[string]bool{}
	switch v := t.value.(type) {
	case *corev1.ConfigMap:
		for k := range v.Data {
			keys[k] = true
		}
		for k := range v.BinaryData {
			keys[k] = true
		}
	case *corev1.Secret:
		for k := range v.Data {
			keys[k] = true
		}
		for k := range v.StringData {
			keys[k] = true
		}
	}
	return keys
}

func (c *checker) checkRef(o *object, where, kind, name string, isOptional bool, keys []string) {
	t, defined := c.target(o, kind, name)
	if !defined {
		if !isOptional {
			c.add(o, "%s refers to %s %q, which these manifests do not define in namespace %q",
				where, kind, name, o.namespace)
		}
		return
	}
	if t == nil || isOptional {
		return
	}
	have := dataKeys(t)
	for _, k := range keys {
		if !have[k] {
			c.add(o, "%s refers to key %q of %s, which has only %s", where, k, t, strings.Join(sortedKeys(have), ", "))
		}
	}
}

func (c *checker) checkContainer(o *object, spec *corev1.PodSpec, volumes map[string]*corev1.Volume,
	ctr *corev1.Container, init bool, grace int64,
) {
	c.checkResources(o, ctr)
	c.checkSecurity(o, spec.SecurityContext, ctr)
	env := c.environment(o, ctr)
	for _, field := range [][]string{ctr.Command, ctr.Args} {
		for _, s := range field {
			c.checkVarRefs(o, fmt.Sprintf("container %q command/args", ctr.Name), s, env)
		}
	}
	for _, m := range ctr.VolumeMounts {
		if volumes[m.Name] == nil {
			c.add(o, "container %q mounts volume %q, which the pod does not define", ctr.Name, m.Name)
		}
	}
	c.checkFiles(o, ctr, env, volumes)
	if init {
		return
	}
	c.checkProbe(o, ctr, "readinessProbe", ctr.ReadinessProbe, "/ready")
	c.checkProbe(o, ctr, "livenessProbe", ctr.LivenessProbe, "/live")
	if ctr.StartupProbe != nil {
		c.checkProbe(o, ctr, "startupProbe", ctr.StartupProbe, "")
	}
	c.checkGrace(o, ctr, env, grace)
	c.checkPorts(o, ctr, env)
}

func (c *checker) checkResources(o *object, ctr *corev1.Container) {
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := ctr.Resources.Requests[r]
		limit, hasLimit := ctr.Resources.Limits[r]
		if !hasReq {
			c.add(o, "container %q has no resources.requests.%s", ctr.Name, r)
		}
		if !hasLimit {
			c.add(o, "container %q has no resources.limits.%s", ctr.Name, r)
		}
		if hasReq && hasLimit && req.Cmp(limit) > 0 {
			c.add(o, "container %q requests %s %s, more than its limit %s", ctr.Name, r, req.String(), limit.String())
		}
	}
}

func (c *checker) checkSecurity(o *object, pod *corev1.PodSecurityContext, ctr *corev1.Container) {
	var nonRoot *bool
	var user *int64
	if pod != nil {
		nonRoot, user = pod.RunAsNonRoot, pod.RunAsUser
	}
	sc := ctr.SecurityContext
	if sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			user = sc.RunAsUser
		}
	}
	if !optional(nonRoot) {
		c.add(o, "container %q does not run with runAsNonRoot: true (pod or container securityContext)", ctr.Name)
	}
	if user != nil && *user == 0 {
		c.add(o, "container %q runs as uid 0", ctr.Name)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.add(o, "container %q does not set securityContext.allowPrivilegeEscalation: false", ctr.Name)
	}
	if sc == nil || sc.Capabilities == nil || !containsCapability(sc.Capabilities.Drop, "ALL") {
		c.add(o, "container %q does not drop ALL capabilities (securityContext.capabilities.drop)", ctr.Name)
	}
}

func containsCapability(list []corev1.Capability, want corev1.Capability) bool {
	for _, c := range list {
		if c == want {
			return true
		}
	}
	return false
}

// environment resolves a container's variables in Kubernetes' order
// (envFrom, then env, later ones winning) and checks every reference.
func (c *checker) environment(o *object, ctr *corev1.Container) map[string]setting {
	env := map[string]setting{}
	for i, ef := range ctr.EnvFrom {
		where := fmt.Sprintf("container %q envFrom[%d]", ctr.Name, i)
		switch {
		case ef.ConfigMapRef != nil:
			c.checkRef(o, where, "ConfigMap", ef.ConfigMapRef.Name, optional(ef.ConfigMapRef.Optional), nil)
			if t, _ := c.target(o, "ConfigMap", ef.ConfigMapRef.Name); t != nil {
				for k, v := range t.value.(*corev1.ConfigMap).Data {
					env[ef.Prefix+k] = setting{v, true}
				}
			}
		case ef.SecretRef != nil:
			c.checkRef(o, where, "Secret", ef.SecretRef.Name, optional(ef.SecretRef.Optional), nil)
			if t, _ := c.target(o, "Secret", ef.SecretRef.Name); t != nil {
				for k := range dataKeys(t) {
					env[ef.Prefix+k] = setting{}
				}
			}
		}
	}
	for _, e := range ctr.Env {
		where := fmt.Sprintf("container %q env %s", ctr.Name, e.Name)
		vf := e.ValueFrom
		switch {
		case vf == nil:
			c.checkVarRefs(o, where, e.Value, env)
			env[e.Name] = setting{e.Value, true}
		case vf.ConfigMapKeyRef != nil:
			ref := vf.ConfigMapKeyRef
			c.checkRef(o, where, "ConfigMap", ref.Name, optional(ref.Optional), []string{ref.Key})
			env[e.Name] = setting{}
			if t, _ := c.target(o, "ConfigMap", ref.Name); t != nil {
				if v, ok := t.value.(*corev1.ConfigMap).Data[ref.Key]; ok {
					env[e.Name] = setting{v, true}
				}
			}
		case vf.SecretKeyRef != nil:
			ref := vf.SecretKeyRef
			c.checkRef(o, where, "Secret", ref.Name, optional(ref.Optional), []string{ref.Key})
			env[e.Name] = setting{}
		case vf.FieldRef != nil:
			if !downwardEnvField(vf.FieldRef.FieldPath) {
				c.add(o, "%s: fieldRef %q is not a field the downward API gives to variables", where, vf.FieldRef.FieldPath)
			}
			env[e.Name] = setting{}
		default:
			env[e.Name] = setting{}
		}
	}
	return env
}

func downwardEnvField(path string) bool {
	switch path {
	case "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
		"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs":
		return true
	}
	for _, prefix := range []string{"metadata.labels['", "metadata.annotations['"} {
		if strings.HasPrefix(path, prefix) && strings.HasSuffix(path, "']") {
			return true
		}
	}
	return false
}

// varRefs lists the $(NAME) references Kubernetes expands in a value ("$$"
// escapes a dollar sign).
func varRefs(s string) []string {
	var refs []string
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		switch s[i+1] {
		case '$':
			i++
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				refs = append(refs, s[i+2:i+2+end])
				i += 2 + end
			}
		}
	}
	return refs
}

func (c *checker) checkVarRefs(o *object, where, value string, env map[string]setting) {
	for _, name := range varRefs(value) {
		if _, ok := env[name]; !ok {
			c.add(o, "%s uses $(%s), which is not defined before it: Kubernetes would pass it on literally", where, name)
		}
	}
}

// checkFiles proves that each NAME_FILE secret setting names a key of a
// mounted Secret or ConfigMap, and that no setting is given in both forms.
func (c *checker) checkFiles(o *object, ctr *corev1.Container, env map[string]setting, volumes map[string]*corev1.Volume) {
	for _, name := range secretSettings {
		_, direct := env[name]
		file, fromFile := env[name+"_FILE"]
		if direct && fromFile {
			c.add(o, "container %q sets both %s and %s_FILE: the node would stop with exit code 2", ctr.Name, name, name)
		}
		if !fromFile || !file.known {
			continue
		}
		where := fmt.Sprintf("container %q: %s_FILE=%s", ctr.Name, name, file.value)
		var mount *corev1.VolumeMount
		for i := range ctr.VolumeMounts {
			m := &ctr.VolumeMounts[i]
			dir := strings.TrimSuffix(m.MountPath, "/")
			if (file.value == dir || strings.HasPrefix(file.value, dir+"/")) &&
				(mount == nil || len(dir) > len(strings.TrimSuffix(mount.MountPath, "/"))) {
				mount = m
			}
		}
		if mount == nil {
			c.add(o, "%s is in none of the container's volumeMounts", where)
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(file.value, strings.TrimSuffix(mount.MountPath, "/")), "/")
		if mount.SubPath != "" {
			rel = strings.TrimSuffix(mount.SubPath+"/"+rel, "/")
		}
		if rel == "" {
			c.add(o, "%s is the mount point of volume %q, a directory", where, mount.Name)
			continue
		}
		v := volumes[mount.Name]
		switch {
		case v == nil:
		case v.Secret != nil:
			c.checkMountedKey(o, where, v.Name, "Secret", v.Secret.SecretName, v.Secret.Items, rel)
		case v.ConfigMap != nil:
			c.checkMountedKey(o, where, v.Name, "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items, rel)
		}
	}
}

func (c *checker) checkMountedKey(o *object, where, volume, kind, name string, items []corev1.KeyToPath, rel string) {
	key := rel
	if len(items) > 0 {
		key = ""
		for _, it := range items {
			if it.Path == rel {
				key = it.Key
			}
		}
		if key == "" {
			c.add(o, "%s: volume %q projects no file %q (see its items)", where, volume, rel)
			return
		}
	}
	t, _ := c.target(o, kind, name)
	if t != nil && !dataKeys(t)[key] {
		c.add(o, "%s: %s has no key %q, so the file would not exist", where, t, key)
	}
}

func (c *checker) checkProbe(o *object, ctr *corev1.Container, field string, p *corev1.Probe, path string) {
	if p == nil {
		c.add(o, "container %q has no %s (httpGet %s)", ctr.Name, field, path)
		return
	}
	if p.HTTPGet == nil {
		if path != "" {
			c.add(o, "container %q %s is not an httpGet of %s", ctr.Name, field, path)
		}
		return
	}
	if path != "" && p.HTTPGet.Path != path {
		c.add(o, "container %q %s asks %q, not %q", ctr.Name, field, p.HTTPGet.Path, path)
	}
	if !hasPort(ctr, p.HTTPGet.Port) {
		c.add(o, "container %q %s port %s is not one of the container's ports", ctr.Name, field, p.HTTPGet.Port.String())
	}
}

func hasPort(ctr *corev1.Container, port intstr.IntOrString) bool {
	for _, cp := range ctr.Ports {
		if (port.Type == intstr.String && cp.Name == port.StrVal) ||
			(port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func podHasPort(d *object, port intstr.IntOrString) bool {
	spec := &d.value.(*appsv1.Deployment).Spec.Template.Spec
	for i := range spec.Containers {
		if hasPort(&spec.Containers[i], port) {
			return true
		}
	}
	return false
}

// preStopSleep is how long a preStop hook holds SIGTERM back, when it says.
func preStopSleep(l *corev1.Lifecycle) time.Duration {
	if l == nil || l.PreStop == nil {
		return 0
	}
	if l.PreStop.Sleep != nil {
		return time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	if e := l.PreStop.Exec; e != nil && len(e.Command) == 2 && filepath.Base(e.Command[0]) == "sleep" {
		if d, ok := parseSleep(e.Command[1]); ok {
			return d
		}
	}
	return 0
}

// checkGrace: the grace period counts from the preStop hook, and the node
// needs SHUTDOWN_GRACE after SIGTERM to let runs finish and release the rest.
func (c *checker) checkGrace(o *object, ctr *corev1.Container, env map[string]setting, grace int64) {
	text := defaultShutdownGrace
	if s, ok := env["SHUTDOWN_GRACE"]; ok {
		if !s.known {
			return
		}
		text = s.value
	}
	shutdown, err := parseDuration(text)
	if err != nil {
		c.add(o, "container %q: SHUTDOWN_GRACE=%q is %v", ctr.Name, text, err)
		return
	}
	stop := preStopSleep(ctr.Lifecycle)
	if time.Duration(grace)*time.Second <= shutdown+stop {
		c.add(o, "terminationGracePeriodSeconds %d is not longer than SHUTDOWN_GRACE (%s) plus the preStop sleep (%s) of container %q: Kubernetes would kill a draining node",
			grace, shutdown, stop, ctr.Name)
	}
}

func (c *checker) checkPorts(o *object, ctr *corev1.Container, env map[string]setting) {
	for _, name := range []string{"HTTP_PORT", "CLUSTER_PORT"} {
		s, ok := env[name]
		if !ok || !s.known {
			continue
		}
		n, err := strconv.ParseInt(s.value, 10, 32)
		if err == nil && n > 0 && !hasPort(ctr, intstr.FromInt32(int32(n))) {
			c.add(o, "container %q: %s=%s is not one of the container's ports", ctr.Name, name, s.value)
		}
	}
	adv, ok := env["CLUSTER_ADVERTISE"]
	port, portSet := env["CLUSTER_PORT"]
	if ok && adv.known && portSet && port.known {
		if p := adv.value[strings.LastIndexByte(adv.value, ':')+1:]; p != port.value {
			c.add(o, "container %q: CLUSTER_ADVERTISE=%s names port %s, but CLUSTER_PORT is %s", ctr.Name, adv.value, p, port.value)
		}
	}
}

func (c *checker) checkService(o *object, s *corev1.Service) {
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if len(s.Spec.Selector) == 0 {
		c.add(o, "spec.selector is empty: the Service selects no Deployment's pods")
		return
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	matched := c.matching(o.namespace, sel)
	if len(matched) == 0 {
		c.add(o, "spec.selector (%s) selects the pods of no Deployment", sel)
		return
	}
	for _, p := range s.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, d := range matched {
			if !podHasPort(d, target) {
				c.add(o, "port %q targets %s, which the containers of %s do not declare", p.Name, target.String(), d)
			}
		}
	}
}

func (c *checker) checkPDB(o *object, p *policyv1.PodDisruptionBudget) {
	sel, ok := c.selector(o, "spec.selector", p.Spec.Selector)
	if !ok {
		return
	}
	matched := c.matching(o.namespace, sel)
	if len(matched) == 0 {
		c.add(o, "spec.selector (%s) selects the pods of no Deployment", sel)
		return
	}
	replicas := int32(0)
	for _, d := range matched {
		if d.broken {
			return
		}
		if r := d.value.(*appsv1.Deployment).Spec.Replicas; r != nil {
			replicas += *r
		} else {
			replicas++
		}
	}
	if m := p.Spec.MinAvailable; m != nil && m.Type == intstr.Int && m.IntVal >= replicas {
		c.add(o, "minAvailable %d of %d replica(s) (%s) leaves no pod to evict: node drains would block",
			m.IntVal, replicas, names(matched))
	}
	if m := p.Spec.MaxUnavailable; m != nil && m.Type == intstr.Int && m.IntVal == 0 {
		c.add(o, "maxUnavailable 0 leaves no pod to evict: node drains would block")
	}
}

func (c *checker) checkNetworkPolicy(o *object, np *networkingv1.NetworkPolicy) {
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		c.add(o, "spec.podSelector: %v", err)
		return
	}
	matched := c.matching(o.namespace, sel)
	if len(matched) == 0 {
		c.add(o, "spec.podSelector (%s) selects the pods of no Deployment", sel)
		return
	}
	check := func(field string, ports []networkingv1.NetworkPolicyPort) {
		for _, p := range ports {
			if p.Port == nil || p.Port.Type != intstr.String {
				continue
			}
			found := false
			for _, d := range matched {
				found = found || podHasPort(d, *p.Port)
			}
			if !found {
				c.add(o, "%s port %q is a port of none of the selected pods", field, p.Port.StrVal)
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		check(fmt.Sprintf("spec.ingress[%d]", i), r.Ports)
	}
}

func isKustomizationFile(f string) bool {
	switch filepath.Base(f) {
	case "kustomization.yml", "kustomization.yaml", "Kustomization":
		return true
	}
	return false
}

// checkKustomizations: every resource a kustomization lists exists, and every
// manifest beside it is listed, except templates (*.template.yml), which are
// there to be filled in by hand.
func (c *checker) checkKustomizations() {
	for _, k := range c.set.kustomizations {
		add := func(format string, args ...any) {
			c.problems = append(c.problems, problem{file: k.file, line: k.line, what: "Kustomization",
				msg: fmt.Sprintf(format, args...)})
		}
		dir := filepath.Dir(k.file)
		listed := map[string]bool{}
		var listedDirs []string
		for _, r := range k.Resources {
			if strings.Contains(r, "://") {
				continue
			}
			p := filepath.Join(dir, r)
			info, err := os.Stat(p)
			switch {
			case err != nil:
				add("resource %q does not exist", r)
			case info.IsDir():
				listedDirs = append(listedDirs, p)
			default:
				listed[p] = true
			}
		}
		for _, f := range c.set.files {
			if listed[f] || isKustomizationFile(f) || strings.Contains(filepath.Base(f), ".template.") ||
				!within(f, dir) {
				continue
			}
			inDir := false
			for _, d := range listedDirs {
				inDir = inDir || within(f, d)
			}
			if !inDir {
				rel, _ := filepath.Rel(dir, f)
				add("%s is not in resources: kubectl apply -k would leave it out (name it *.template.yml if that is meant)", rel)
			}
		}
	}
}

func within(f, dir string) bool {
	rel, err := filepath.Rel(dir, f)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
