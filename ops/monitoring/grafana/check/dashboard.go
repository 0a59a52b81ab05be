package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// The SDK decodes panel options, field config and queries through a
// registry of panel and data source plugins; without the registration a
// stat panel's options would decode as an untyped map and a Prometheus
// query as an unknown one, and nothing in them would be checked.
func init() { plugins.RegisterDefaultPlugins() }

// board is one dashboard file: its bytes and what the SDK made of them.
type board struct {
	file string
	dash dashboard.Dashboard
	// strictOK: the strict decoding passed (otherwise dash holds the
	// lenient decoding, see loadBoard).
	strictOK bool
}

// panelRef is a panel with where it sits, for messages.
type panelRef struct {
	where string
	panel *dashboard.Panel
	row   *dashboard.RowPanel
}

// flatPanels lists every panel, those inside (collapsed) rows included, in
// the order Grafana shows them. Rows are entries of their own.
func (b *board) flatPanels() []panelRef {
	var out []panelRef
	for i, p := range b.dash.Panels {
		switch {
		case p.RowPanel != nil:
			r := p.RowPanel
			out = append(out, panelRef{where: fmt.Sprintf("panels[%d] row %d %q", i, r.Id, deref(r.Title)), row: r})
			for j := range r.Panels {
				q := &r.Panels[j]
				out = append(out, panelRef{where: fmt.Sprintf("panels[%d].panels[%d] %s", i, j, describe(q)), panel: q})
			}
		case p.Panel != nil:
			out = append(out, panelRef{where: fmt.Sprintf("panels[%d] %s", i, describe(p.Panel)), panel: p.Panel})
		}
	}
	return out
}

func describe(p *dashboard.Panel) string {
	id := "(no id)"
	if p.Id != nil {
		id = fmt.Sprint(*p.Id)
	}
	return fmt.Sprintf("panel %s %q", id, deref(p.Title))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// dashboardFiles expands directories into their *.json files, in name
// order; a file named explicitly is taken whatever its extension.
func dashboardFiles(paths []string) ([]string, error) {
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
		var found []string
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && filepath.Ext(p) == ".json" {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		for _, f := range found {
			add(f)
		}
	}
	return files, nil
}

// loadBoard reads and decodes one dashboard. A file that is not valid JSON
// yields no board. Otherwise the board is decoded twice: strictly, for the
// problems, and leniently, so that the rules still run on a dashboard with
// one misspelt field (and report what else is wrong with it).
func loadBoard(file string) (*board, []problem) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, []problem{{file, "", err.Error()}}
	}
	if !json.Valid(raw) {
		var v any
		err := json.Unmarshal(raw, &v)
		return nil, []problem{{file, "", fmt.Sprintf("not valid JSON: %v", err)}}
	}
	var problems []problem
	for _, k := range duplicateKeys(raw) {
		// Grafana's JavaScript keeps the last of two equal keys: the first one
		// is silently lost, usually the half of a merge someone meant to keep.
		problems = append(problems, problem{file, k, "key given twice (Grafana keeps the last)"})
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, append(problems, problem{file, "", "not a JSON object: " + err.Error()})
	}
	if _, wrapped := top["dashboard"]; wrapped {
		problems = append(problems, problem{file, "dashboard", "the file is wrapped for the HTTP API ({\"dashboard\": ...}); a provisioned file is the dashboard itself"})
	}

	b := &board{file: file}
	if err := b.dash.UnmarshalJSONStrict(raw); err != nil {
		for _, msg := range buildErrors(err) {
			problems = append(problems, problem{file, "", "does not decode as a Grafana dashboard: " + msg})
		}
	} else {
		b.strictOK = true
	}
	// The SDK's strict Panel decoder reads fieldConfig leniently (only its
	// "custom" part strictly), so a misspelt "unit" would pass: decode each
	// panel's fieldConfig again, strictly.
	problems = append(problems, strictFieldConfigs(file, top)...)

	if !b.strictOK {
		b.dash = dashboard.Dashboard{}
		if err := json.Unmarshal(raw, &b.dash); err != nil {
			return nil, append(problems, problem{file, "", "does not decode even leniently: " + err.Error()})
		}
	}
	return b, problems
}

func buildErrors(err error) []string {
	var be cog.BuildErrors
	if errors.As(err, &be) {
		out := make([]string, 0, len(be))
		for _, e := range be {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func strictFieldConfigs(file string, top map[string]json.RawMessage) []problem {
	var problems []problem
	var walk func(path string, raw json.RawMessage)
	walk = func(path string, raw json.RawMessage) {
		var panels []map[string]json.RawMessage
		if json.Unmarshal(raw, &panels) != nil {
			return // the strict decoding already says what is wrong
		}
		for i, p := range panels {
			where := fmt.Sprintf("%s[%d]", path, i)
			if fc, ok := p["fieldConfig"]; ok && string(fc) != "null" {
				var src dashboard.FieldConfigSource
				if err := src.UnmarshalJSONStrict(fc); err != nil {
					for _, msg := range buildErrors(err) {
						problems = append(problems, problem{file, where + ".fieldConfig", msg})
					}
				}
			}
			if sub, ok := p["panels"]; ok {
				walk(where+".panels", sub)
			}
		}
	}
	if p, ok := top["panels"]; ok {
		walk("panels", p)
	}
	return problems
}

// duplicateKeys lists the paths of object keys that appear twice in one
// object (encoding/json keeps the last without a word).
func duplicateKeys(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var dups []string
	var walk func(path string) error
	walk = func(path string) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		d, ok := t.(json.Delim)
		if !ok {
			return nil
		}
		switch d {
		case '{':
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if seen[k] {
					dups = append(dups, strings.TrimPrefix(path+"."+k, "."))
				}
				seen[k] = true
				if err := walk(path + "." + k); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err
	}
	// The JSON is valid (checked before), so walk can only stop at the end.
	_ = walk("")
	return dups
}
