package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func check(t *testing.T, args ...string) (problems []string, code int, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "ok: ") && !strings.Contains(l, " problem(s) in ") {
			problems = append(problems, l)
		}
	}
	return problems, code, errOut.String()
}

func TestProjectManifestsAreClean(t *testing.T) {
	problems, code, stderr := check(t, "..")
	if code != 0 || len(problems) != 0 {
		t.Fatalf("ops/k8s: exit %d, problems:\n%s\n%s", code, strings.Join(problems, "\n"), stderr)
	}
}

func TestBaseIsClean(t *testing.T) {
	problems, code, _ := check(t, "testdata/base")
	if code != 0 || len(problems) != 0 {
		t.Fatalf("testdata/base: exit %d, problems:\n%s", code, strings.Join(problems, "\n"))
	}
}

// Each bad manifest is checked together with the valid testdata/base: it must
// exit 1 and report exactly the expected problems, all of them in the bad file.
func TestBadManifests(t *testing.T) {
	cases := map[string][]string{
		"misspelt_field.yml": {
			`Deployment/misspelt: unknown field "spec.template.spec.containers[0].readinessProbes"`,
			`container "main" has no readinessProbe`,
		},
		"misplaced_field.yml": {
			`Deployment/misplaced: unknown field "spec.template.spec.livenessProbe"`,
			`container "main" has no livenessProbe`,
		},
		"wrong_type.yml": {
			`Deployment/wrongtype: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`,
		},
		"configmap_number.yml": {`ConfigMap/numbers: data.HTTP_PORT is 8080, not a string`},
		"duplicate_key.yml":    {`:3: not valid YAML: yaml: unmarshal errors: line 13: key "LOG_LEVEL" already set`},
		"unknown_kind.yml": {
			`:3: StatefulSet/db: unknown kind "StatefulSet" of apiVersion "apps/v1"`,
			`:9: Deployment/old: unknown kind "Deployment" of apiVersion "extensions/v1beta1"`,
		},
		"missing_limits.yml": {
			`Deployment/nolimits: container "main" has no resources.limits.cpu`,
			`Deployment/nolimits: container "main" has no resources.limits.memory`,
		},
		"request_over_limit.yml": {`container "main" requests memory 128Mi, more than its limit 64Mi`},
		"selector_mismatch.yml": {
			`Deployment/mismatch: spec.selector (app.kubernetes.io/component=mismatched) does not match the pod template's labels`,
		},
		"selector_overlap.yml": {`Deployment/overlap: spec.selector (app.kubernetes.io/name=t) also selects the pods of Deployment/app`},
		"grace_too_short.yml": {
			`Deployment/grace: terminationGracePeriodSeconds 30 is not longer than SHUTDOWN_GRACE (25s) plus the preStop sleep (5s)`,
		},
		"grace_env_override.yml": {
			`Deployment/graceenv: terminationGracePeriodSeconds 31 is not longer than SHUTDOWN_GRACE (1m30s) plus the preStop sleep (5s)`,
		},
		"grace_default.yml": {
			`Deployment/gracedefault: terminationGracePeriodSeconds 30 is not longer than SHUTDOWN_GRACE (25s)`,
		},
		"dangling_secret.yml": {
			`Deployment/dangling: volume "secrets" refers to Secret "credentials", which these manifests do not define`,
			`Deployment/dangling: container "main" env TOKEN refers to key "api-token" of Secret/creds, which has only database-password`,
		},
		"dangling_configmap.yml": {
			`Deployment/danglingcm: container "main" envFrom[0] refers to ConfigMap "config", which these manifests do not define`,
			`Deployment/danglingcm: container "main" env LOG_LEVEL refers to key "LOG_LEVEL" of ConfigMap/cfg, which has only DATABASE_PASSWORD_FILE, HTTP_PORT, SHUTDOWN_GRACE`,
			`Deployment/danglingcm: container "main" mounts volume "secret", which the pod does not define`,
		},
		"probes.yml": {
			`Deployment/probes: container "main" readinessProbe port 9090 is not one of the container's ports`,
			`Deployment/probes: container "main" livenessProbe asks "/ready", not "/live"`,
		},
		"security.yml": {
			`container "main" does not run with runAsNonRoot: true`,
			`container "main" runs as uid 0`,
			`container "main" does not set securityContext.allowPrivilegeEscalation: false`,
			`container "main" does not drop ALL capabilities`,
		},
		"env_refs.yml": {
			`env CLUSTER_ADVERTISE uses $(POD_IP), which is not defined before it`,
			`env POD_IP: fieldRef "status.podIp" is not a field the downward API gives to variables`,
		},
		"file_settings.yml": {
			`container "main" sets both DATABASE_PASSWORD and DATABASE_PASSWORD_FILE`,
			`CLUSTER_SECRET_FILE=/run/secret/t/cluster-secret is in none of the container's volumeMounts`,
		},
		"file_missing_key.yml": {
			`DATABASE_PASSWORD_FILE=/run/secrets/t/db-password: Secret/creds has no key "db-password"`,
		},
		"metadata.yml": {
			`:3: ConfigMap/nowhere: metadata.namespace is not set`,
			`:10: ConfigMap/Bad_Name: metadata.name: a lowercase RFC 1123 subdomain`,
			`:10: ConfigMap/Bad_Name: metadata.namespace "elsewhere" is not a Namespace these manifests define`,
			`:10: ConfigMap/Bad_Name: metadata.labels has no app.kubernetes.io/name`,
		},
		"service.yml": {
			`Service/nothing: spec.selector (app.kubernetes.io/component=nothing) selects the pods of no Deployment`,
			`Service/wrongport: port "metrics" targets metrics, which the containers of Deployment/app do not declare`,
		},
		"pdb.yml": {
			`PodDisruptionBudget/nothing: spec.selector (app.kubernetes.io/component=nothing) selects the pods of no Deployment`,
			`PodDisruptionBudget/blocking: minAvailable 3 of 3 replica(s) (Deployment/app) leaves no pod to evict`,
		},
		"networkpolicy.yml": {`NetworkPolicy/netpol: spec.ingress[0] port "cluster" is a port of none of the selected pods`},
	}
	files, _ := filepath.Glob("testdata/*.yml")
	if len(files) != len(cases) {
		t.Errorf("%d files in testdata, %d cases: every bad manifest needs a case", len(files), len(cases))
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join("testdata", name)
			problems, code, stderr := check(t, "testdata/base", file)
			if code != 1 {
				t.Fatalf("exit %d, want 1 (stderr: %s)", code, stderr)
			}
			expectProblems(t, problems, file+":", want)
		})
	}
}

func TestKustomization(t *testing.T) {
	problems, code, _ := check(t, "testdata/kustomize")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	expectProblems(t, problems, "testdata/kustomize/kustomization.yml:3: Kustomization: ", []string{
		`resource "missing.yml" does not exist`,
		`extra.yml is not in resources`,
	})
}

// expectProblems wants each expected text in its own reported line, every
// line to start with prefix, and nothing else reported.
func expectProblems(t *testing.T, problems []string, prefix string, want []string) {
	t.Helper()
	used := make([]bool, len(problems))
	for _, w := range want {
		found := false
		for i, p := range problems {
			if !used[i] && strings.Contains(p, w) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %q", w)
		}
	}
	for i, p := range problems {
		if !strings.HasPrefix(p, prefix) {
			t.Errorf("problem outside %s: %s", prefix, p)
		} else if !used[i] {
			t.Errorf("unexpected problem: %s", p)
		}
	}
	if t.Failed() {
		t.Logf("reported:\n%s", strings.Join(problems, "\n"))
	}
}

func TestUsage(t *testing.T) {
	if _, code, _ := check(t, "--help"); code != 0 {
		t.Errorf("--help: exit %d, want 0", code)
	}
	for _, args := range [][]string{{}, {"--bogus", "."}, {"testdata/no-such-file.yml"}, {t.TempDir()}} {
		if _, code, stderr := check(t, args...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d (stderr %q), want 2 with a message", args, code, stderr)
		}
	}
}

func TestUnreadableFileIsAProblem(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.yml")
	if err := os.WriteFile(f, []byte("---\napiVersion: v1\nkind: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	problems, code, _ := check(t, f)
	if code != 1 || len(problems) != 1 || !strings.Contains(problems[0], "not valid YAML") {
		t.Fatalf("exit %d, problems %q", code, problems)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"250ms": 250 * time.Millisecond, "25s": 25 * time.Second, "5m": 5 * time.Minute,
		"2h": 2 * time.Hour, "30d": 30 * 24 * time.Hour, "1m30s500ms": 90500 * time.Millisecond,
		"0s": 0, "25": 25 * time.Second, "36525d": maxDuration,
	}
	for s, want := range good {
		if got, err := parseDuration(s); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-5s", "5x", "5S", "1.5h", "s", "ms", "5 s", "1h1h", "30s1h",
		"5mss", "1h-30m", "36526d", "99999999999999ms", "123456789"} {
		if got, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", s, got)
		}
	}
}

func TestParseSleep(t *testing.T) {
	for s, want := range map[string]time.Duration{"5": 5 * time.Second, "0.5": 500 * time.Millisecond,
		"2m": 2 * time.Minute, "1h": time.Hour} {
		if got, ok := parseSleep(s); !ok || got != want {
			t.Errorf("parseSleep(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	if _, ok := parseSleep("soon"); ok {
		t.Error("parseSleep(soon) accepted")
	}
}

func TestVarRefs(t *testing.T) {
	got := strings.Join(varRefs("$(A):$$(B)-$(C)$("), ",")
	if got != "A,C" {
		t.Errorf("varRefs = %q, want A,C", got)
	}
}

func TestSplitDocumentsKeepsLines(t *testing.T) {
	docs := splitDocuments("# head\n---\n# c\na: 1\n--- # x\n\nb: 2\n")
	var lines []int
	for _, d := range docs {
		lines = append(lines, firstLine(d))
	}
	if len(docs) != 3 || lines[1] != 4 || lines[2] != 7 {
		t.Errorf("documents start at %v, want [_ 4 7]", lines)
	}
}
