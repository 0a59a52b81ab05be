package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The provisioning file formats, as Grafana documents them
// (administration/provisioning). Grafana itself ignores a field it does not
// know, so a misspelt one is silently lost; decoding with KnownFields turns
// it into a problem instead.
type datasourceFile struct {
	APIVersion        int                `yaml:"apiVersion"`
	DeleteDatasources []deleteDatasource `yaml:"deleteDatasources"`
	Prune             bool               `yaml:"prune"`
	Datasources       []datasource       `yaml:"datasources"`
}

type deleteDatasource struct {
	Name  string `yaml:"name"`
	OrgID int    `yaml:"orgId"`
}

type datasource struct {
	Name            string         `yaml:"name"`
	Type            string         `yaml:"type"`
	UID             string         `yaml:"uid"`
	Access          string         `yaml:"access"`
	OrgID           int            `yaml:"orgId"`
	URL             string         `yaml:"url"`
	User            string         `yaml:"user"`
	Database        string         `yaml:"database"`
	BasicAuth       bool           `yaml:"basicAuth"`
	BasicAuthUser   string         `yaml:"basicAuthUser"`
	WithCredentials bool           `yaml:"withCredentials"`
	IsDefault       bool           `yaml:"isDefault"`
	JSONData        map[string]any `yaml:"jsonData"`
	SecureJSONData  map[string]any `yaml:"secureJsonData"`
	Version         int            `yaml:"version"`
	Editable        bool           `yaml:"editable"`
}

type providerFile struct {
	APIVersion int        `yaml:"apiVersion"`
	Providers  []provider `yaml:"providers"`
}

type provider struct {
	Name                  string          `yaml:"name"`
	OrgID                 int             `yaml:"orgId"`
	Folder                string          `yaml:"folder"`
	FolderUID             string          `yaml:"folderUid"`
	Type                  string          `yaml:"type"`
	DisableDeletion       bool            `yaml:"disableDeletion"`
	UpdateIntervalSeconds int             `yaml:"updateIntervalSeconds"`
	AllowUIUpdates        bool            `yaml:"allowUiUpdates"`
	Options               providerOptions `yaml:"options"`
}

type providerOptions struct {
	Path                      string `yaml:"path"`
	FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
}

// provisioning is what the dashboards may refer to.
type provisioning struct {
	// datasource uid -> plugin type
	datasources map[string]string
}

func (p *provisioning) uids() string {
	var u []string
	for k := range p.datasources {
		u = append(u, k)
	}
	sort.Strings(u)
	return strings.Join(u, ", ")
}

// loadProvisioning reads DIR/datasources and DIR/dashboards. A missing
// directory or unreadable file is an error (exit 2); what the files say
// wrong are problems.
func loadProvisioning(dir string) (*provisioning, []problem, error) {
	prov := &provisioning{datasources: map[string]string{}}
	var problems []problem

	dsFiles, err := yamlFiles(filepath.Join(dir, "datasources"))
	if err != nil {
		return nil, nil, err
	}
	if len(dsFiles) == 0 {
		return nil, nil, fmt.Errorf("no data source file (*.yml, *.yaml) in %s", filepath.Join(dir, "datasources"))
	}
	defaults := map[int][]string{}
	names := map[string]string{}
	for _, f := range dsFiles {
		var df datasourceFile
		if err := decodeYAML(f, &df); err != nil {
			problems = append(problems, problem{f, "", err.Error()})
			continue
		}
		if df.APIVersion != 1 {
			problems = append(problems, problem{f, "apiVersion", fmt.Sprintf("is %d, Grafana reads 1", df.APIVersion)})
		}
		for i, ds := range df.Datasources {
			where := fmt.Sprintf("datasources[%d] %q", i, ds.Name)
			for field, v := range map[string]string{"name": ds.Name, "type": ds.Type, "uid": ds.UID, "url": ds.URL} {
				if strings.TrimSpace(v) == "" {
					problems = append(problems, problem{f, where, "has no " + field})
				}
			}
			if ds.UID != "" {
				if _, dup := prov.datasources[ds.UID]; dup {
					problems = append(problems, problem{f, where, fmt.Sprintf("uid %q is provisioned twice", ds.UID)})
				}
				prov.datasources[ds.UID] = ds.Type
			}
			if other, dup := names[ds.Name]; dup && ds.Name != "" {
				problems = append(problems, problem{f, where, "name also used in " + other})
			}
			names[ds.Name] = f
			if ds.IsDefault {
				// Grafana refuses to start the provisioning with two defaults in one org.
				org := ds.OrgID
				if org == 0 {
					org = 1
				}
				defaults[org] = append(defaults[org], ds.Name)
			}
			if ds.Access != "" && ds.Access != "proxy" && ds.Access != "direct" {
				problems = append(problems, problem{f, where, fmt.Sprintf("access %q is neither proxy nor direct", ds.Access)})
			}
		}
	}
	for org, d := range defaults {
		if len(d) > 1 {
			problems = append(problems, problem{dir, "datasources", fmt.Sprintf("org %d has %d default data sources (%s); Grafana allows one", org, len(d), strings.Join(d, ", "))})
		}
	}

	dbFiles, err := yamlFiles(filepath.Join(dir, "dashboards"))
	if err != nil {
		return nil, nil, err
	}
	if len(dbFiles) == 0 {
		return nil, nil, fmt.Errorf("no dashboard provider file (*.yml, *.yaml) in %s", filepath.Join(dir, "dashboards"))
	}
	for _, f := range dbFiles {
		var pf providerFile
		if err := decodeYAML(f, &pf); err != nil {
			problems = append(problems, problem{f, "", err.Error()})
			continue
		}
		if pf.APIVersion != 1 {
			problems = append(problems, problem{f, "apiVersion", fmt.Sprintf("is %d, Grafana reads 1", pf.APIVersion)})
		}
		if len(pf.Providers) == 0 {
			problems = append(problems, problem{f, "providers", "none: no dashboard would be loaded"})
		}
		for i, p := range pf.Providers {
			where := fmt.Sprintf("providers[%d] %q", i, p.Name)
			if p.Name == "" {
				problems = append(problems, problem{f, where, "has no name"})
			}
			if p.Type != "" && p.Type != "file" {
				problems = append(problems, problem{f, where, fmt.Sprintf("type %q: only file providers load JSON files", p.Type)})
			}
			if !filepath.IsAbs(p.Options.Path) {
				problems = append(problems, problem{f, where, fmt.Sprintf("options.path %q is not an absolute path in the Grafana container", p.Options.Path)})
			}
		}
	}
	return prov, problems, nil
}

func yamlFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yml" || ext == ".yaml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

// decodeYAML decodes every document of a file strictly into v (one
// document expected; an empty file is an error).
func decodeYAML(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty file")
		}
		return fmt.Errorf("does not decode as a Grafana provisioning file: %v", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("holds more than one YAML document; Grafana reads the first only")
	}
	return nil
}
