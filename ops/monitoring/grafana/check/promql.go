package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Grafana's own pattern for template variables in a query (public/app/
// features/variables/utils.ts, variableRegex): $name, [[name]] and
// ${name}, ${name.field}, ${name:format}.
var varRe = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

var digitsRe = regexp.MustCompile(`^[0-9]+$`)

// varRef is one variable reference in a text.
type varRef struct {
	name       string
	start, end int
}

func varRefs(s string) []varRef {
	var refs []varRef
	for _, m := range varRe.FindAllStringSubmatchIndex(s, -1) {
		name := ""
		for _, g := range []int{1, 2, 4} {
			if m[2*g] >= 0 {
				name = s[m[2*g]:m[2*g+1]]
				break
			}
		}
		// $1, ${1}: a regex group in label_replace's replacement, which
		// Grafana leaves alone (no variable can be named that).
		if digitsRe.MatchString(name) {
			continue
		}
		refs = append(refs, varRef{name: name, start: m[0], end: m[1]})
	}
	return refs
}

// wholeVarRef tells whether s is exactly one variable reference ("$ds",
// "${ds}"), as a data source uid may be.
func wholeVarRef(s string) (string, bool) {
	refs := varRefs(s)
	if len(refs) == 1 && refs[0].start == 0 && refs[0].end == len(s) {
		return refs[0].name, true
	}
	return "", false
}

// promDuration renders d as Prometheus writes durations (1m, 1h30m).
func promDuration(d time.Duration) string { return model.Duration(d).String() }

// builtin is the value of one of Grafana's global variables, as the checker
// substitutes it; ok is false for one it does not know a value for.
func (c *checker) builtin(name string) (string, bool) {
	switch name {
	case "__interval", "__rate_interval":
		return promDuration(c.interval), true
	case "__interval_ms", "__rate_interval_ms":
		return strconv.FormatInt(c.interval.Milliseconds(), 10), true
	case "__range":
		return promDuration(c.rangeDur), true
	case "__range_s":
		return strconv.FormatInt(int64(c.rangeDur.Seconds()), 10), true
	case "__range_ms":
		return strconv.FormatInt(c.rangeDur.Milliseconds(), 10), true
	}
	return "", false
}

// queryText is a variable's query as text: Grafana 10 and later save a
// Prometheus variable's query as an object {query, refId, qryType}, older
// versions and other variable types as a string.
func queryText(q *dashboard.StringOrMap) string {
	switch {
	case q == nil:
		return ""
	case q.String != nil:
		return *q.String
	case q.Map != nil:
		if s, ok := q.Map["query"].(string); ok {
			return s
		}
	}
	return ""
}

// interpolate substitutes every variable of s the way Grafana would with
// "All" selected: a query or custom variable by its allValue (or the
// match-all regex .*), Grafana's interval and range variables by the
// checker's durations. It returns the result and what is wrong: undefined
// variables, and (in PromQL) a multi-value variable outside a regex
// matcher, where a match-all value would match nothing.
func (c *checker) interpolate(s string, vars map[string]*dashboard.VariableModel, promql bool) (string, []string) {
	var b strings.Builder
	var msgs []string
	last := 0
	for _, r := range varRefs(s) {
		b.WriteString(s[last:r.start])
		last = r.end
		text := s[r.start:r.end]
		if strings.HasPrefix(r.name, "__") {
			v, ok := c.builtin(r.name)
			if !ok {
				msgs = append(msgs, fmt.Sprintf("uses %s, a Grafana variable the checker has no value for", text))
				b.WriteString(text)
				continue
			}
			b.WriteString(v)
			continue
		}
		v := vars[r.name]
		if v == nil {
			msgs = append(msgs, fmt.Sprintf("uses %s, which is not a variable of this dashboard", text))
			b.WriteString(text)
			continue
		}
		switch v.Type {
		case dashboard.VariableTypeQuery, dashboard.VariableTypeCustom:
			if promql && !inRegexMatcher(s, r.start) {
				msgs = append(msgs, fmt.Sprintf("uses %s outside a regex label matcher (=~ or !~): with All or several values selected Grafana substitutes a regex, which would match nothing there", text))
			}
			value := ".*"
			if v.AllValue != nil && *v.AllValue != "" {
				value = *v.AllValue
			}
			b.WriteString(value)
		case dashboard.VariableTypeInterval:
			b.WriteString(promDuration(c.interval))
		case dashboard.VariableTypeConstant, dashboard.VariableTypeTextbox:
			b.WriteString(queryText(v.Query))
		case dashboard.VariableTypeDatasource:
			msgs = append(msgs, fmt.Sprintf("uses %s, a data source variable, as a value", text))
			b.WriteString(text)
		default:
			b.WriteString(text)
		}
	}
	b.WriteString(s[last:])
	return b.String(), msgs
}

// inRegexMatcher tells whether position pos of a PromQL text lies inside a
// string literal that is the value of a =~ or !~ label matcher.
func inRegexMatcher(s string, pos int) bool {
	var quote byte
	start := -1
	for i := 0; i < pos && i < len(s); i++ {
		ch := s[i]
		if quote != 0 {
			if ch == '\\' && quote != '`' {
				i++
				continue
			}
			if ch == quote {
				quote = 0
			}
			continue
		}
		if ch == '"' || ch == '\'' || ch == '`' {
			quote, start = ch, i
		}
	}
	if quote == 0 {
		return false
	}
	before := strings.TrimRight(s[:start], " \t\r\n")
	return strings.HasSuffix(before, "=~") || strings.HasSuffix(before, "!~")
}

var (
	labelValuesRe = regexp.MustCompile(`^label_values\(\s*(?:(.*?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)
	queryResultRe = regexp.MustCompile(`^query_result\((.*)\)$`)
)

// variableExpr turns a Prometheus variable query into PromQL whose instant
// result holds the variable's values (non-empty when the variable has some),
// so a variable can be evaluated like a panel.
func variableExpr(q string) (string, error) {
	q = strings.TrimSpace(q)
	if m := labelValuesRe.FindStringSubmatch(q); m != nil {
		sel, label := m[1], m[2]
		if sel == "" {
			sel = fmt.Sprintf("{%s!=\"\"}", label)
		}
		return fmt.Sprintf("count by (%s) (%s)", label, sel), nil
	}
	if m := queryResultRe.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("query %q is neither label_values(...) nor query_result(...), the forms the checker can evaluate", q)
}

// metricSet is the orchestrator's metrics as the C++ code registers them.
type metricSet struct {
	source string
	kinds  map[string]string // metric family name -> counter, gauge, histogram
	series map[string]string // series name (with _bucket...) -> family name
}

// registerRe finds prometheus-cpp registrations:
// BuildCounter().Name("orchestrator_tasks_total").
var registerRe = regexp.MustCompile(`Build(Counter|Gauge|Histogram|Summary)\(\)\s*\.Name\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"`)

func loadMetricSet(path string) (*metricSet, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ms := &metricSet{source: path, kinds: map[string]string{}, series: map[string]string{}}
	for _, m := range registerRe.FindAllStringSubmatch(string(raw), -1) {
		kind, name := strings.ToLower(m[1]), m[2]
		ms.kinds[name] = kind
		switch kind {
		case "histogram":
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				ms.series[name+s] = name
			}
		case "summary":
			for _, s := range []string{"", "_sum", "_count"} {
				ms.series[name+s] = name
			}
		default:
			ms.series[name] = name
		}
	}
	if len(ms.kinds) == 0 {
		return nil, fmt.Errorf("%s registers no metric (no BuildCounter().Name(...) or the like)", path)
	}
	return ms, nil
}

func (ms *metricSet) names() string {
	var n []string
	for k := range ms.series {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, " ")
}

// metricName is the metric a selector names, if it names exactly one.
func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// checkMetrics reports orchestrator metrics the code does not register, and
// rate-like functions applied to gauges (which go up and down, so rate()
// reads every decrease as a counter reset).
func (c *checker) checkMetrics(e parser.Expr) []string {
	if c.metrics == nil {
		return nil
	}
	var msgs []string
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := metricName(n)
			if strings.HasPrefix(name, "orchestrator_") && !seen[name] {
				seen[name] = true
				if _, ok := c.metrics.series[name]; !ok {
					msgs = append(msgs, fmt.Sprintf("names %s, which %s does not register", name, c.metrics.source))
				}
			}
		case *parser.Call:
			switch n.Func.Name {
			case "rate", "irate", "increase":
				for _, a := range n.Args {
					ms, ok := a.(*parser.MatrixSelector)
					if !ok {
						continue
					}
					vs, ok := ms.VectorSelector.(*parser.VectorSelector)
					if !ok {
						continue
					}
					name := metricName(vs)
					if fam, ok := c.metrics.series[name]; ok && c.metrics.kinds[fam] == "gauge" {
						msgs = append(msgs, fmt.Sprintf("%s() of %s, a gauge: use deriv() or delta()", n.Func.Name, name))
					}
				}
			}
		}
		return nil
	})
	return msgs
}

// exprLine is one extracted expression: dashboard uid, the panel (or
// variable or annotation) it belongs to, and the PromQL after substitution.
type exprLine struct {
	dashboard, title, expr string
}

var blanks = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")

func writeExprs(path string, lines []exprLine, stdout interface{ Write([]byte) (int, error) }) error {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", blanks.Replace(l.dashboard), blanks.Replace(l.title), blanks.Replace(l.expr))
	}
	if path == "-" {
		_, err := stdout.Write([]byte(b.String()))
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
