package main

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
)

// minSchemaVersion: from 36 on, panels and queries carry data source
// references as {type, uid} objects (older dashboards name data sources by
// name, which a fresh Grafana migrates on load with guesses). Grafana 10 and
// 11 write 36 to 39 and later.
const minSchemaVersion = 36

// Grafana stores a dashboard uid of at most 40 of these characters.
var uidRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)

type checker struct {
	prov     *provisioning
	metrics  *metricSet
	interval time.Duration
	rangeDur time.Duration
	exprs    []exprLine
}

// promql parses with Prometheus's default options: no experimental
// functions, which Debian's Prometheus (2.42) would not know either.
var promql = parser.NewParser(parser.Options{})

func (c *checker) checkBoards(boards []*board) []problem {
	var problems []problem
	uids := map[string]string{}
	titles := map[string]string{}
	for _, b := range boards {
		problems = append(problems, c.checkBoard(b)...)
		// Grafana's file provider loads one dashboard per uid and refuses a
		// second with the same title in one folder: either way one is lost.
		if uid := deref(b.dash.Uid); uid != "" {
			if other, dup := uids[uid]; dup {
				problems = append(problems, problem{b.file, "uid", fmt.Sprintf("%q is also the uid of %s", uid, other)})
			} else {
				uids[uid] = b.file
			}
		}
		if title := deref(b.dash.Title); title != "" {
			if other, dup := titles[title]; dup {
				problems = append(problems, problem{b.file, "title", fmt.Sprintf("%q is also the title of %s", title, other)})
			} else {
				titles[title] = b.file
			}
		}
	}
	return problems
}

func (c *checker) checkBoard(b *board) []problem {
	d := &b.dash
	var problems []problem
	add := func(where, format string, args ...any) {
		problems = append(problems, problem{b.file, where, fmt.Sprintf(format, args...)})
	}
	uid := deref(d.Uid)
	switch {
	case uid == "":
		add("uid", "missing: Grafana would make up a new one, and links to the dashboard would break")
	case !uidRe.MatchString(uid):
		add("uid", "%q: Grafana takes 1 to 40 letters, digits, - and _", uid)
	}
	if strings.TrimSpace(deref(d.Title)) == "" {
		add("title", "missing")
	}
	if d.Id != nil {
		add("id", "is %d: a provisioned dashboard leaves it out (Grafana assigns it; a fixed one can overwrite another dashboard)", *d.Id)
	}
	if d.SchemaVersion < minSchemaVersion {
		add("schemaVersion", "is %d; the dashboards are written for Grafana 10/11 (at least %d)", d.SchemaVersion, minSchemaVersion)
	}

	vars := c.checkVariables(b, uid, add)

	ids := map[uint32]string{}
	claim := func(where string, id uint32) {
		if other, dup := ids[id]; dup {
			add(where, "id %d is also the id of %s", id, other)
		} else {
			ids[id] = where
		}
	}
	for _, pr := range b.flatPanels() {
		if pr.row != nil {
			claim(pr.where, pr.row.Id)
			if pr.row.Datasource != nil {
				if msg := c.refProblem(pr.row.Datasource, vars); msg != "" {
					add(pr.where, "%s", msg)
				}
			}
			if pr.row.Repeat != nil && vars[*pr.row.Repeat] == nil {
				add(pr.where, "repeats over %q, which is not a variable of this dashboard", *pr.row.Repeat)
			}
			continue
		}
		c.checkPanel(pr, uid, vars, claim, add)
	}

	for i, a := range d.Annotations.List {
		where := fmt.Sprintf("annotations.list[%d] %q", i, a.Name)
		if a.BuiltIn != nil && *a.BuiltIn == 1 {
			continue // Grafana's own annotations and alerts: no query
		}
		if msg := c.refProblem(a.Datasource, vars); msg != "" {
			add(where, "%s", msg)
		}
		expr := deref(a.Expr)
		if q, ok := asPrometheus(a.Target); ok && expr == "" {
			expr = q.Expr
		}
		if strings.TrimSpace(expr) == "" {
			add(where, "has no expr")
			continue
		}
		for _, msg := range c.addExpr(uid, "annotation "+a.Name, expr, vars) {
			add(where, "%s", msg)
		}
	}
	return problems
}

func (c *checker) checkPanel(pr panelRef, uid string, vars map[string]*dashboard.VariableModel,
	claim func(string, uint32), add func(string, string, ...any)) {
	p, where := pr.panel, pr.where
	if p.Id == nil {
		add(where, "has no id")
	} else {
		claim(where, *p.Id)
	}
	title := deref(p.Title)
	if strings.TrimSpace(title) == "" {
		add(where, "has no title")
	}
	if _, msgs := c.interpolate(title, vars, false); len(msgs) > 0 {
		for _, m := range msgs {
			add(where, "title %s", m)
		}
	}
	if _, ok := cog.ConfigForPanelcfgVariant(p.Type); !ok {
		add(where, "type %q is not a panel plugin of Grafana 10/11 (graph and singlestat became timeseries and stat)", p.Type)
	}
	if p.GridPos == nil {
		add(where, "has no gridPos: Grafana would stack it anywhere")
	}
	if p.Repeat != nil && vars[*p.Repeat] == nil {
		add(where, "repeats over %q, which is not a variable of this dashboard", *p.Repeat)
	}
	if msg := c.refProblem(p.Datasource, vars); msg != "" {
		add(where, "%s", msg)
	}
	switch {
	case p.FieldConfig == nil || p.FieldConfig.Defaults.Unit == nil || strings.TrimSpace(*p.FieldConfig.Defaults.Unit) == "":
		add(where, "has no unit (fieldConfig.defaults.unit): a reader cannot tell seconds from counts")
	case !knownUnit(*p.FieldConfig.Defaults.Unit):
		add(where, "unit %q is not a Grafana unit id the checker knows (units.go lists them from the SDK)", *p.FieldConfig.Defaults.Unit)
	}
	if len(p.Targets) == 0 {
		add(where, "has no query (targets is empty)")
		return
	}
	refIDs := map[string]bool{}
	for i, t := range p.Targets {
		tw := fmt.Sprintf("%s targets[%d]", where, i)
		q, ok := asPrometheus(t)
		if !ok {
			add(tw, "is not a Prometheus query (decoded as %T): give the panel's datasource type \"prometheus\"", t)
			continue
		}
		ref := deref(q.RefId)
		switch {
		case ref == "":
			add(tw, "has no refId")
		case refIDs[ref]:
			add(tw, "refId %q is used twice in the panel", ref)
		}
		refIDs[ref] = true
		if q.Datasource != nil {
			if msg := c.refProblem(q.Datasource, vars); msg != "" {
				add(tw, "%s", msg)
			}
		}
		if strings.TrimSpace(q.Expr) == "" {
			add(tw, "has no expr")
			continue
		}
		for _, msg := range c.addExpr(uid, title, q.Expr, vars) {
			add(tw, "%s", msg)
		}
	}
}

// asPrometheus is the Prometheus query a decoded target holds, if it is one.
func asPrometheus(t any) (*prometheus.Dataquery, bool) {
	switch q := t.(type) {
	case *prometheus.Dataquery:
		return q, q != nil
	case prometheus.Dataquery:
		return &q, true
	}
	return nil, false
}

// addExpr substitutes the variables of expr, parses it, checks the metrics
// it names and records it for the expression file.
func (c *checker) addExpr(uid, title, expr string, vars map[string]*dashboard.VariableModel) []string {
	sub, msgs := c.interpolate(expr, vars, true)
	if len(msgs) > 0 {
		// An unsubstituted variable would only add a parse error to the
		// real problem.
		return msgs
	}
	e, err := promql.ParseExpr(sub)
	if err != nil {
		return []string{fmt.Sprintf("PromQL does not parse: %v (expression after substitution: %s)", oneLine(err.Error()), oneLine(sub))}
	}
	c.exprs = append(c.exprs, exprLine{uid, title, sub})
	return c.checkMetrics(e)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkVariables checks the template variables and returns them by name.
func (c *checker) checkVariables(b *board, uid string, add func(string, string, ...any)) map[string]*dashboard.VariableModel {
	vars := map[string]*dashboard.VariableModel{}
	list := b.dash.Templating.List
	// Every name first: variables may refer to one defined after them.
	for i := range list {
		v := &list[i]
		where := fmt.Sprintf("templating.list[%d] %q", i, v.Name)
		switch {
		case v.Name == "":
			add(where, "has no name")
		case strings.HasPrefix(v.Name, "__"):
			add(where, "names beginning with __ are Grafana's own variables")
		case vars[v.Name] != nil:
			add(where, "the name is used by another variable")
		default:
			vars[v.Name] = v
		}
	}
	for i := range list {
		v := &list[i]
		where := fmt.Sprintf("templating.list[%d] %q", i, v.Name)
		q := queryText(v.Query)
		switch v.Type {
		case dashboard.VariableTypeQuery:
			if msg := c.refProblem(v.Datasource, vars); msg != "" {
				add(where, "%s", msg)
			}
			expr, err := variableExpr(q)
			if err != nil {
				add(where, "%v", err)
				continue
			}
			for _, msg := range c.addExpr(uid, "variable $"+v.Name, expr, vars) {
				add(where, "%s", msg)
			}
		case dashboard.VariableTypeCustom:
			if strings.TrimSpace(q) == "" {
				add(where, "custom variable without values (query)")
			}
		case dashboard.VariableTypeDatasource:
			if !c.prov.hasType(q) {
				add(where, "lists data sources of type %q, and none is provisioned", q)
			}
		case dashboard.VariableTypeInterval, dashboard.VariableTypeConstant, dashboard.VariableTypeTextbox:
		default:
			add(where, "type %q is not one the checker can substitute (query, custom, datasource, interval, constant, textbox)", v.Type)
		}
	}
	return vars
}

func (p *provisioning) hasType(t string) bool {
	for _, typ := range p.datasources {
		if typ == t {
			return true
		}
	}
	return false
}

// refProblem says what is wrong with a data source reference, or "".
func (c *checker) refProblem(ref *common.DataSourceRef, vars map[string]*dashboard.VariableModel) string {
	if ref == nil {
		return "has no datasource: Grafana would use whichever data source is its default"
	}
	uid, typ := deref(ref.Uid), deref(ref.Type)
	if uid == "" {
		return "datasource has no uid"
	}
	if name, ok := wholeVarRef(uid); ok {
		v := vars[name]
		if v == nil || v.Type != dashboard.VariableTypeDatasource {
			return fmt.Sprintf("datasource uid %q names no data source variable of this dashboard", uid)
		}
		if plugin := queryText(v.Query); typ != "" && typ != plugin {
			return fmt.Sprintf("datasource type %q, but $%s lists %q data sources", typ, name, plugin)
		}
		return ""
	}
	ptype, ok := c.prov.datasources[uid]
	if !ok {
		return fmt.Sprintf("datasource uid %q is not provisioned (provisioned uids: %s)", uid, c.prov.uids())
	}
	if typ != "" && typ != ptype {
		return fmt.Sprintf("datasource uid %q has type %q here but %q in the provisioning", uid, typ, ptype)
	}
	if ptype != "prometheus" {
		return fmt.Sprintf("datasource %q is of type %q; the checker knows Prometheus queries only", uid, ptype)
	}
	return ""
}
