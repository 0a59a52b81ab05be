// Command check validates the orchestrator's Kubernetes manifests offline.
//
// Every YAML document is decoded strictly into the official typed object of
// k8s.io/api (unknown, misspelt or misplaced fields, wrong types, duplicate
// keys and unknown kinds are errors), then checked against the project's own
// rules: selectors, probes, resources, security, graceful shutdown and
// references between objects. Every problem is printed at once.
//
// Usage:
//
//	check [--help] PATH [PATH ...]
//
// A PATH is a manifest file or a directory, searched recursively for *.yml
// and *.yaml files (directories named testdata and hidden ones are skipped).
// Exit status: 0 when clean, 1 when there are problems, 2 on a usage error.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

const usage = `Usage: check [--help] PATH [PATH ...]

Validates Kubernetes manifests offline: each YAML document is decoded strictly
into its k8s.io/api type, then checked against the orchestrator's rules.
A PATH is a file or a directory (searched for *.yml and *.yaml; testdata and
hidden directories are skipped). Exit: 0 clean, 1 problems, 2 usage error.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var paths []string
	for i, a := range args {
		switch {
		case a == "-h" || a == "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case a == "--":
			paths = append(paths, args[i+1:]...)
			return checkPaths(paths, stdout, stderr)
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "check: unknown option %q\n%s", a, usage)
			return 2
		default:
			paths = append(paths, a)
		}
	}
	return checkPaths(paths, stdout, stderr)
}

func checkPaths(paths []string, stdout, stderr io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintf(stderr, "check: no manifest path given\n%s", usage)
		return 2
	}
	files, err := manifestFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "check: no *.yml or *.yaml file under %s\n", strings.Join(paths, ", "))
		return 2
	}
	set, problems := load(files)
	problems = append(problems, checkRules(set)...)
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].file != problems[j].file {
			return problems[i].file < problems[j].file
		}
		return problems[i].line < problems[j].line
	})
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%d problem(s) in %d object(s) from %d file(s)\n",
			len(problems), len(set.objects), len(files))
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d object(s) from %d file(s)\n", len(set.objects), len(files))
	return 0
}
