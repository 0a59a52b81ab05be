// Command check validates the orchestrator's Grafana dashboards offline.
//
// Grafana is not packaged by Debian, so the dashboards cannot be loaded into
// a real Grafana here. Instead every dashboard is decoded strictly into the
// types of github.com/grafana/grafana-foundation-sdk (generated from
// Grafana's own schemas: unknown or misplaced fields, wrong types and
// missing required fields are errors), then checked against what Grafana and
// this project need: unique uids, titles and panel ids, a Prometheus query
// in every panel, data sources that the provisioning defines, a unit on
// every panel, defined template variables, PromQL that parses, and
// orchestrator metric names that the code defines.
//
// The PromQL of every panel, annotation and variable is written out (with
// variables substituted) so that a later test can evaluate each expression
// against a live Prometheus.
//
// Exit status: 0 when clean, 1 when there are problems, 2 on a usage error.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

const usage = `Usage: check [--help] --provisioning DIR [--metrics-source FILE] [--exprs FILE]
             [--interval DURATION] [--range DURATION] PATH [PATH ...]

Validates Grafana dashboards (*.json files, or directories holding them)
against the data sources and dashboard providers provisioned under DIR
(DIR/datasources/*.yml and DIR/dashboards/*.yml).

  --provisioning DIR     Grafana's provisioning directory (required)
  --metrics-source FILE  C++ file that registers the orchestrator's metrics
                         (actors/metrics.cpp): every orchestrator_* metric a
                         query names must be registered there
  --exprs FILE           write every PromQL expression, one per line:
                         dashboard uid TAB panel title TAB expression
                         ("-" for standard output)
  --interval DURATION    value of $__interval and $__rate_interval (default 1m)
  --range DURATION       value of $__range (default 1h)

Exit: 0 clean, 1 problems, 2 usage error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	provisioning  string
	metricsSource string
	exprsOut      string
	interval      time.Duration
	rangeDur      time.Duration
	paths         []string
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opt options
	fs.StringVar(&opt.provisioning, "provisioning", "", "")
	fs.StringVar(&opt.metricsSource, "metrics-source", "", "")
	fs.StringVar(&opt.exprsOut, "exprs", "", "")
	fs.DurationVar(&opt.interval, "interval", time.Minute, "")
	fs.DurationVar(&opt.rangeDur, "range", time.Hour, "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "check: %v\n%s", err, usage)
		return 2
	}
	if *help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	opt.paths = fs.Args()
	switch {
	case opt.provisioning == "":
		fmt.Fprintf(stderr, "check: --provisioning is required\n%s", usage)
		return 2
	case len(opt.paths) == 0:
		fmt.Fprintf(stderr, "check: no dashboard path given\n%s", usage)
		return 2
	case opt.interval <= 0 || opt.rangeDur <= 0:
		fmt.Fprintf(stderr, "check: --interval and --range must be positive\n")
		return 2
	}
	return checkAll(opt, stdout, stderr)
}

func checkAll(opt options, stdout, stderr io.Writer) int {
	files, err := dashboardFiles(opt.paths)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "check: no *.json file under %v\n", opt.paths)
		return 2
	}
	prov, problems, err := loadProvisioning(opt.provisioning)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	var known *metricSet
	if opt.metricsSource != "" {
		known, err = loadMetricSet(opt.metricsSource)
		if err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return 2
		}
	}

	c := &checker{prov: prov, metrics: known, interval: opt.interval, rangeDur: opt.rangeDur}
	var boards []*board
	for _, f := range files {
		b, ps := loadBoard(f)
		problems = append(problems, ps...)
		if b != nil {
			boards = append(boards, b)
		}
	}
	problems = append(problems, c.checkBoards(boards)...)

	sort.SliceStable(problems, func(i, j int) bool { return problems[i].file < problems[j].file })
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}

	if opt.exprsOut != "" {
		if err := writeExprs(opt.exprsOut, c.exprs, stdout); err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return 2
		}
	}
	panels := 0
	for _, b := range boards {
		panels += len(b.flatPanels())
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%d problem(s) in %d dashboard(s)\n", len(problems), len(files))
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d dashboard(s), %d panel(s), %d PromQL expression(s)\n",
		len(boards), panels, len(c.exprs))
	return 0
}

// problem is one finding: file, where in it, what is wrong.
type problem struct {
	file  string
	where string
	msg   string
}

func (p problem) String() string {
	if p.where == "" {
		return fmt.Sprintf("%s: %s", p.file, p.msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.file, p.where, p.msg)
}
