package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one decoded manifest document.
type object struct {
	file      string
	line      int
	kind      string
	name      string
	namespace string
	// broken objects failed to decode: they are not checked, and references
	// to them are not reported (the decoding error already is).
	broken bool
	value  any
}

func (o *object) String() string { return o.kind + "/" + o.name }

type problem struct {
	file string
	line int
	what string
	msg  string
}

// String is one line: file:line: Kind/name: message.
func (p problem) String() string {
	msg := strings.ReplaceAll(strings.ReplaceAll(p.msg, ":\n", ": "), "\n", "; ")
	msg = strings.Join(strings.Fields(msg), " ")
	if p.what == "" {
		return fmt.Sprintf("%s:%d: %s", p.file, p.line, msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", p.file, p.line, p.what, msg)
}

type kustomization struct {
	file      string
	line      int
	Resources []string `json:"resources"`
}

type manifestSet struct {
	files          []string
	objects        []*object
	kustomizations []*kustomization
}

// The kinds these manifests may hold, by apiVersion and kind; anything else
// is a problem, so a typo in either cannot slip through undecoded.
var kinds = map[string]func() any{
	"v1 Namespace":                       func() any { return &corev1.Namespace{} },
	"v1 ConfigMap":                       func() any { return &corev1.ConfigMap{} },
	"v1 Secret":                          func() any { return &corev1.Secret{} },
	"v1 Service":                         func() any { return &corev1.Service{} },
	"apps/v1 Deployment":                 func() any { return &appsv1.Deployment{} },
	"policy/v1 PodDisruptionBudget":      func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1 NetworkPolicy": func() any { return &networkingv1.NetworkPolicy{} },
	"kustomize.config.k8s.io/v1beta1 Kustomization": nil,
}

func supportedKinds() string {
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// manifestFiles expands directories into their *.yml and *.yaml files, in
// name order; a file named explicitly is taken whatever its extension.
func manifestFiles(paths []string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			add(filepath.Clean(root))
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if ext := filepath.Ext(p); ext == ".yml" || ext == ".yaml" {
				add(filepath.Clean(p))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

var yamlLine = regexp.MustCompile(`line [0-9]+`)

type document struct {
	line int
	text string
}

// splitDocuments cuts a multi-document YAML stream at its "---" lines,
// remembering where each document starts for the messages.
func splitDocuments(data string) []document {
	var docs []document
	var b strings.Builder
	start := 1
	for i, l := range strings.SplitAfter(data, "\n") {
		if rest, ok := strings.CutPrefix(l, "---"); ok {
			if r := strings.TrimSpace(rest); r == "" || strings.HasPrefix(r, "#") || rest[0] == ' ' {
				docs = append(docs, document{start, b.String()})
				b.Reset()
				start = i + 2
				if r != "" && !strings.HasPrefix(r, "#") {
					start = i + 1
					b.WriteString(r + "\n")
				}
				continue
			}
		}
		b.WriteString(l)
	}
	return append(docs, document{start, b.String()})
}

// firstLine is the line of a document's first content, past blank lines and
// comments: where an editor should land.
func firstLine(d document) int {
	for i, l := range strings.Split(d.text, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			return d.line + i
		}
	}
	return d.line
}

func load(files []string) (*manifestSet, []problem) {
	set := &manifestSet{files: files}
	var problems []problem
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, problem{file: f, line: 0, msg: err.Error()})
			continue
		}
		for _, d := range splitDocuments(string(data)) {
			problems = append(problems, set.decode(f, d)...)
		}
	}
	return set, problems
}

func (s *manifestSet) decode(file string, d document) []problem {
	line := firstLine(d)
	report := func(what, format string, args ...any) []problem {
		return []problem{{file: file, line: line, what: what, msg: fmt.Sprintf(format, args...)}}
	}
	js, err := yaml.YAMLToJSONStrict([]byte(d.text))
	if err != nil {
		// The parser counts lines from the document's start; the file's
		// line numbers are what an editor needs.
		msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
			return fmt.Sprintf("line %d", n+d.line-1)
		})
		return report("", "not valid YAML: %s", msg)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return report("", "not a Kubernetes object: %v", err)
	}
	what := head.Kind + "/" + head.Metadata.Name
	if head.APIVersion == "" || head.Kind == "" {
		return report("", "not a Kubernetes object: apiVersion and kind are required")
	}
	newValue, known := kinds[head.APIVersion+" "+head.Kind]
	if !known {
		return report(what, "unknown kind %q of apiVersion %q (known: %s)",
			head.Kind, head.APIVersion, supportedKinds())
	}
	if newValue == nil {
		k := &kustomization{file: file, line: line}
		if err := json.Unmarshal(js, k); err != nil {
			return report("Kustomization", "%v", err)
		}
		s.kustomizations = append(s.kustomizations, k)
		return nil
	}
	o := &object{file: file, line: line, kind: head.Kind, name: head.Metadata.Name,
		namespace: head.Metadata.Namespace, value: newValue()}
	s.objects = append(s.objects, o)
	var problems []problem
	strict, err := kjson.UnmarshalStrict(js, o.value, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		o.broken = true
		if o.kind == "ConfigMap" {
			if p := configMapValues(js, report(what, "")[0]); len(p) > 0 {
				return p
			}
		}
		return report(what, "%v", err)
	}
	for _, e := range strict {
		problems = append(problems, report(what, "%v", e)...)
	}
	return append(problems, checkName(o, report(what, "")[0])...)
}

// checkName applies the API server's rules for names, which decoding does not.
func checkName(o *object, at problem) []problem {
	var errs []string
	switch {
	case o.name == "":
		errs = []string{"metadata.name is required"}
	case o.kind == "Namespace":
		errs = validation.IsDNS1123Label(o.name)
	case o.kind == "Service":
		errs = validation.IsDNS1035Label(o.name)
	default:
		errs = validation.IsDNS1123Subdomain(o.name)
	}
	var problems []problem
	for _, e := range errs {
		at.msg = "metadata.name: " + e
		problems = append(problems, at)
	}
	return problems
}

// configMapValues names the data entries that are not strings, which the
// type error of a ConfigMap does not: "HTTP_PORT: 8080" needs quotes.
func configMapValues(js []byte, at problem) []problem {
	var cm struct {
		Data map[string]any `json:"data"`
	}
	if json.Unmarshal(js, &cm) != nil {
		return nil
	}
	var problems []problem
	for _, k := range sortedKeys(cm.Data) {
		if _, ok := cm.Data[k].(string); !ok {
			at.msg = fmt.Sprintf("data.%s is %v, not a string: quote it", k, cm.Data[k])
			problems = append(problems, at)
		}
	}
	return problems
}
