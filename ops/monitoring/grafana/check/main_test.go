package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

const (
	repoProvisioning = "../provisioning"
	repoDashboards   = "../dashboards"
	repoMetrics      = "../../../../actors/metrics.cpp"
)

// minimal is a small dashboard that passes every check; each case of
// TestBrokenDashboardsAreRejected breaks it in one way.
const minimal = `{
  "uid": "t", "title": "T", "schemaVersion": 39,
  "annotations": {"list": []},
  "templating": {"list": [
    {"type": "query", "name": "node", "datasource": {"type": "prometheus", "uid": "prometheus"},
     "query": {"query": "label_values(orchestrator_node_info, node)", "refId": "A"},
     "includeAll": true, "multi": true, "allValue": ".*"}
  ]},
  "panels": [
    {"type": "row", "id": 1, "title": "R", "collapsed": true, "gridPos": {"h": 1, "w": 24, "x": 0, "y": 0},
     "panels": [
       {"type": "timeseries", "id": 2, "title": "Queue",
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "gridPos": {"h": 8, "w": 12, "x": 0, "y": 1},
        "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []},
                    "tooltip": {"mode": "multi", "sort": "none"}},
        "targets": [{"refId": "A", "datasource": {"type": "prometheus", "uid": "prometheus"},
                     "expr": "max(orchestrator_queue_depth * on (instance) group_left () orchestrator_node_info{node=~\"$node\"})"}]}
     ]},
    {"type": "timeseries", "id": 3, "title": "Runs",
     "datasource": {"type": "prometheus", "uid": "prometheus"},
     "gridPos": {"h": 8, "w": 12, "x": 12, "y": 1},
     "fieldConfig": {"defaults": {"unit": "ops"}, "overrides": []},
     "targets": [{"refId": "A", "expr": "sum by (status) (rate(orchestrator_tasks_total[$__rate_interval]))"}]}
  ]
}`

func writeBoard(t *testing.T, dir, name string, edit func(d map[string]any)) {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(minimal), &d); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(d)
	}
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Accessors into the decoded minimal dashboard.
func panels(d map[string]any) []any { return d["panels"].([]any) }
func inner(d map[string]any) map[string]any {
	return panels(d)[0].(map[string]any)["panels"].([]any)[0].(map[string]any)
}
func top(d map[string]any) map[string]any { return panels(d)[1].(map[string]any) }
func target(p map[string]any) map[string]any {
	return p["targets"].([]any)[0].(map[string]any)
}

func runCheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestRepositoryDashboardsAreClean(t *testing.T) {
	exprs := filepath.Join(t.TempDir(), "exprs.tsv")
	code, out := runCheck(t, "--provisioning", repoProvisioning, "--metrics-source", repoMetrics,
		"--exprs", exprs, repoDashboards)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	raw, err := os.ReadFile(exprs)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
			t.Errorf("expression line is not dashboard TAB title TAB expr: %q", line)
		}
		if strings.Contains(f[len(f)-1], "$") && !strings.Contains(f[len(f)-1], "${1}") {
			t.Errorf("a variable is left in %q", line)
		}
	}
}

func TestMinimalDashboardIsClean(t *testing.T) {
	dir := t.TempDir()
	writeBoard(t, dir, "t.json", nil)
	code, out := runCheck(t, "--provisioning", repoProvisioning, "--metrics-source", repoMetrics, dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestBrokenDashboardsAreRejected(t *testing.T) {
	cases := []struct {
		name string
		edit func(d map[string]any)
		want string
	}{
		{"duplicated panel id inside a row", func(d map[string]any) { top(d)["id"] = 2.0 },
			`id 2 is also the id of panels[0].panels[0] panel 2 "Queue"`},
		{"row id shared with a panel", func(d map[string]any) { top(d)["id"] = 1.0 },
			`id 1 is also the id of panels[0] row 1`},
		{"panel without id", func(d map[string]any) { delete(top(d), "id") }, "has no id"},
		{"target without expr", func(d map[string]any) { delete(target(inner(d)), "expr") },
			"required field is missing"},
		{"empty expr", func(d map[string]any) { target(top(d))["expr"] = " " }, "targets[0]: has no expr"},
		{"no targets", func(d map[string]any) { top(d)["targets"] = []any{} }, "has no query"},
		{"wrong datasource uid", func(d map[string]any) {
			top(d)["datasource"] = map[string]any{"type": "prometheus", "uid": "prom"}
		}, `datasource uid "prom" is not provisioned (provisioned uids: prometheus)`},
		{"wrong target datasource uid", func(d map[string]any) {
			target(inner(d))["datasource"] = map[string]any{"type": "prometheus", "uid": "other"}
		}, `targets[0]: datasource uid "other" is not provisioned`},
		{"wrong datasource type", func(d map[string]any) {
			top(d)["datasource"] = map[string]any{"type": "loki", "uid": "prometheus"}
		}, `has type "loki" here but "prometheus" in the provisioning`},
		{"no datasource", func(d map[string]any) { delete(top(d), "datasource") }, "has no datasource"},
		{"undefined datasource variable", func(d map[string]any) {
			top(d)["datasource"] = map[string]any{"type": "prometheus", "uid": "${ds}"}
		}, `datasource uid "${ds}" names no data source variable`},
		{"bad PromQL", func(d map[string]any) { target(top(d))["expr"] = "sum(rate(orchestrator_tasks_total[5m])" },
			"PromQL does not parse"},
		{"undefined variable", func(d map[string]any) {
			target(top(d))["expr"] = `sum(orchestrator_queue_depth{instance=~"$instance"})`
		}, "uses $instance, which is not a variable of this dashboard"},
		{"variable outside a regex matcher", func(d map[string]any) {
			target(top(d))["expr"] = `orchestrator_node_info{node="$node"}`
		}, "outside a regex label matcher"},
		{"unknown Grafana variable", func(d map[string]any) {
			target(top(d))["expr"] = `orchestrator_queue_depth offset $__dashboard`
		}, "uses $__dashboard, a Grafana variable the checker has no value for"},
		{"metric the code does not register", func(d map[string]any) {
			target(top(d))["expr"] = `rate(orchestrator_task_total[5m])`
		}, "names orchestrator_task_total, which"},
		{"histogram named without its suffix", func(d map[string]any) {
			target(top(d))["expr"] = `orchestrator_task_duration_seconds`
		}, "names orchestrator_task_duration_seconds, which"},
		{"rate of a gauge", func(d map[string]any) {
			target(top(d))["expr"] = `rate(orchestrator_queue_depth[5m])`
		}, "rate() of orchestrator_queue_depth, a gauge"},
		{"no unit", func(d map[string]any) {
			delete(top(d)["fieldConfig"].(map[string]any)["defaults"].(map[string]any), "unit")
		}, "has no unit"},
		{"unknown unit", func(d map[string]any) {
			top(d)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unit"] = "seconds"
		}, `unit "seconds" is not a Grafana unit id`},
		{"misspelt fieldConfig key", func(d map[string]any) {
			top(d)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unti"] = "s"
		}, "unexpected field 'unti'"},
		{"unknown panel field", func(d map[string]any) { top(d)["datasources"] = "x" }, "unexpected field 'datasources'"},
		{"legacy graph panel", func(d map[string]any) { top(d)["type"] = "graph" }, `type "graph" is not a panel plugin`},
		{"no uid", func(d map[string]any) { delete(d, "uid") }, "uid: missing"},
		{"no title", func(d map[string]any) { d["title"] = "" }, "title: missing"},
		{"fixed id", func(d map[string]any) { d["id"] = 7.0 }, "id: is 7"},
		{"old schema", func(d map[string]any) { d["schemaVersion"] = 27.0 }, "schemaVersion: is 27"},
		{"duplicate refId", func(d map[string]any) {
			p := top(d)
			p["targets"] = append(p["targets"].([]any), map[string]any{"refId": "A", "expr": "vector(1)"})
		}, `refId "A" is used twice`},
		{"variable query not evaluable", func(d map[string]any) {
			v := d["templating"].(map[string]any)["list"].([]any)[0].(map[string]any)
			v["query"] = "metrics(orchestrator_.*)"
		}, "neither label_values(...) nor query_result(...)"},
		{"annotation without expr", func(d map[string]any) {
			d["annotations"] = map[string]any{"list": []any{map[string]any{
				"name": "a", "enable": true, "iconColor": "red",
				"datasource": map[string]any{"type": "prometheus", "uid": "prometheus"}}}}
		}, `annotations.list[0] "a": has no expr`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeBoard(t, dir, "t.json", tc.edit)
			code, out := runCheck(t, "--provisioning", repoProvisioning, "--metrics-source", repoMetrics, dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("no line contains %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestDuplicatesAcrossDashboards(t *testing.T) {
	dir := t.TempDir()
	writeBoard(t, dir, "a.json", nil)
	writeBoard(t, dir, "b.json", nil)
	code, out := runCheck(t, "--provisioning", repoProvisioning, dir)
	if code != 1 || !strings.Contains(out, `uid: "t" is also the uid of`) || !strings.Contains(out, `title: "T" is also the title of`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestInvalidJSONAndDuplicateKeys(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"uid": "x",`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runCheck(t, "--provisioning", repoProvisioning, dir)
	if code != 1 || !strings.Contains(out, "not valid JSON") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if got := duplicateKeys([]byte(`{"a": 1, "b": [{"c": 1, "c": 2}], "a": 3}`)); strings.Join(got, ",") != "b[0].c,a" {
		t.Fatalf("duplicateKeys = %v", got)
	}
}

func TestInterpolate(t *testing.T) {
	c := &checker{interval: time.Minute, rangeDur: 6 * time.Hour}
	all := ".+"
	vars := map[string]*dashboard.VariableModel{
		"node": {Name: "node", Type: dashboard.VariableTypeQuery, AllValue: &all},
		"job":  {Name: "job", Type: dashboard.VariableTypeCustom},
		"ds":   {Name: "ds", Type: dashboard.VariableTypeDatasource},
	}
	got, msgs := c.interpolate(`sum(rate(x{node=~"$node",job!~"${job:regex}"}[$__rate_interval])) / $__range_s + label_replace(y, "a", "${1}b", "c", "(.)")`, vars, true)
	want := `sum(rate(x{node=~".+",job!~".*"}[1m])) / 21600 + label_replace(y, "a", "${1}b", "c", "(.)")`
	if got != want || len(msgs) != 0 {
		t.Fatalf("got %q %v\nwant %q", got, msgs, want)
	}
	if _, msgs := c.interpolate(`x{node="$node"} + $ds + [[missing]]`, vars, true); len(msgs) != 3 {
		t.Fatalf("want 3 problems, got %v", msgs)
	}
}

func TestInRegexMatcher(t *testing.T) {
	s := `x{a=~"$v", b = "$v", c!~ '$v'} + y{d="\"$v"}`
	var got []bool
	for _, r := range varRefs(s) {
		got = append(got, inRegexMatcher(s, r.start))
	}
	if want := []bool{true, false, true, false}; len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestVariableExpr(t *testing.T) {
	for q, want := range map[string]string{
		"label_values(orchestrator_node_info, node)":      "count by (node) (orchestrator_node_info)",
		`label_values(up{job=~"a.*"}, instance)`:          `count by (instance) (up{job=~"a.*"})`,
		"label_values(node)":                              `count by (node) ({node!=""})`,
		"query_result(topk(3, orchestrator_queue_depth))": "topk(3, orchestrator_queue_depth)",
	} {
		got, err := variableExpr(q)
		if err != nil || got != want {
			t.Errorf("variableExpr(%q) = %q, %v; want %q", q, got, err, want)
		}
	}
}

func TestProvisioningProblems(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"datasources", "dashboards"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"datasources/a.yml": "apiVersion: 1\ndatasources:\n  - name: A\n    type: prometheus\n    uid: a\n    url: http://a\n    isDefault: true\n  - name: B\n    type: prometheus\n    uid: b\n    url: http://b\n    isDefault: true\n",
		"datasources/b.yml": "apiVersion: 1\ndatasources:\n  - name: C\n    type: prometheus\n    uid: c\n    url: http://c\n    isDefualt: true\n",
		"dashboards/d.yml":  "apiVersion: 1\nproviders:\n  - name: p\n    type: file\n    options:\n      path: dashboards\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, problems, err := loadProvisioning(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, p := range problems {
		all = append(all, p.String())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"org 1 has 2 default data sources (A, B)", "field isDefualt not found", `options.path "dashboards" is not an absolute path`} {
		if !strings.Contains(text, want) {
			t.Errorf("no problem contains %q:\n%s", want, text)
		}
	}
}

func TestUsage(t *testing.T) {
	if code, _ := runCheck(t, repoDashboards); code != 2 {
		t.Errorf("without --provisioning: exit %d, want 2", code)
	}
	if code, _ := runCheck(t, "--provisioning", repoProvisioning); code != 2 {
		t.Errorf("without a path: exit %d, want 2", code)
	}
	if code, out := runCheck(t, "--help"); code != 0 || !strings.Contains(out, "Usage: check") {
		t.Errorf("--help: exit %d:\n%s", code, out)
	}
}
