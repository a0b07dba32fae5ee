package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/invopop/jsonschema"
	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite docs/tocsin.schema.json from the config types")

// schemaFile is the JSON Schema of the config file, for editors
// (yaml-language-server) and CI; docs/configuration.md says how to use it.
const schemaFile = "../docs/tocsin.schema.json"

// durationPattern is Go's duration syntax ("30s", "1m30s", "250ms"), or a
// ${VAR} the loader expands.
const durationPattern = `^(0|[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h)([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))*|.*\$\{[A-Za-z_][A-Za-z0-9_]*\}.*)$`

// generateSchema reflects the Config type through its koanf tags, as the
// loader's walker reads them: every key known, no other allowed.
func generateSchema(t *testing.T) []byte {
	t.Helper()
	r := &jsonschema.Reflector{
		FieldNameTag:               "koanf",
		RequiredFromJSONSchemaTags: true, // the rules of Validate say what is required, and where
		Mapper: func(typ reflect.Type) *jsonschema.Schema {
			switch typ {
			case reflect.TypeFor[time.Duration]():
				return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
					{Type: "string", Pattern: durationPattern, Description: `a Go duration: "30s", "1m30s", "250ms"`},
					{Type: "integer", Const: 0},
				}}
			case reflect.TypeFor[time.Time]():
				return &jsonschema.Schema{Type: "string", Format: "date-time"}
			}
			if typ.Kind() == reflect.String {
				// The loader takes a number or a boolean for a string
				// (expect_status: [200, 3xx]), as YAML writes them.
				return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "string"}, {Type: "number"}, {Type: "boolean"}}}
			}
			return nil
		},
	}
	s := r.Reflect(&Config{})
	zeroWords(s, reflect.TypeFor[Config](), map[reflect.Type]bool{})
	s.ID = "https://raw.githubusercontent.com/tocsin/tocsin/main/docs/tocsin.schema.json"
	s.Title = "tocsin configuration"
	s.Description = "The config file of tocsin (docs/configuration.md). Generated from the config types by config/jsonschema_test.go."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// zeroWords gives each field with a zero word (quorum: majority) the
// schema of what the walker takes for it (countOrWord): the word, or a
// whole number of at least 1. The reflector's Mapper sees types, not
// fields, and the field is a plain int.
func zeroWords(s *jsonschema.Schema, t reflect.Type, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || isScalar(t) {
		return
	}
	seen[t] = true
	for key, f := range fieldsByKey(t) {
		if f.zero != "" {
			s.Definitions[t.Name()].Properties.Set(key, &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
				{Type: "integer", Minimum: "1"},
				{Type: "string", Enum: []any{f.zero}},
			}})
		}
		zeroWords(s, f.typ, seen)
	}
}

// TestJSONSchemaUpToDate: the shipped schema is what the config types say;
// `go test ./config -run TestJSONSchemaUpToDate -update-schema` rewrites it.
func TestJSONSchemaUpToDate(t *testing.T) {
	t.Parallel()
	want := generateSchema(t)
	if *updateSchema {
		if err := os.WriteFile(schemaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not the schema of the config types (%v): run go test ./config -run TestJSONSchemaUpToDate -update-schema", schemaFile, err)
	}
}

// TestExampleConfigsMatchSchema: every example config the repository
// ships validates against the schema — the valid test configs, the
// Kubernetes base's, and each whole config in docs/ and the README (a
// YAML block with a top-level checks: key) — and configs with an unknown
// key or a value of the wrong type do not.
func TestExampleConfigsMatchSchema(t *testing.T) {
	t.Parallel()
	c := jsv.NewCompiler()
	doc, err := jsv.UnmarshalJSON(bytes.NewReader(generateSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("tocsin.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("tocsin.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]string{}
	files, _ := filepath.Glob("testdata/valid-*.yml")
	files = append(files, "../deploy/kubernetes/base/tocsin.yml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		examples[f] = string(b)
	}
	docs, _ := filepath.Glob("../docs/*.md")
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	for _, f := range append(docs, "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllStringSubmatch(string(b), -1) {
			if strings.HasPrefix(m[1], "checks:") || strings.Contains(m[1], "\nchecks:") {
				examples[f+"#"+string(rune('a'+i%26))+strings.Repeat("'", i/26)] = m[1]
			}
		}
	}
	if len(examples) < 7 {
		t.Fatalf("only %d example configs found", len(examples))
	}
	valid := func(name, text string) error {
		var v any
		if err := yaml.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inst, err := jsv.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		return schema.Validate(inst)
	}
	for name, text := range examples {
		if err := valid(name, text); err != nil {
			t.Errorf("%s does not match the schema: %v", name, err)
		}
	}
	for name, text := range map[string]string{
		"unknown key":     "checks:\n  - {name: a, component: c, type: http, intervall: 30s}\n",
		"wrong type":      "checks:\n  - {name: a, component: c, type: http, failure_threshold: many}\n",
		"bad duration":    "checks:\n  - {name: a, component: c, type: http, interval: soon}\n",
		"unknown section": "servr: {listen: ':8080'}\nchecks: []\n",
	} {
		if valid(name, text) == nil {
			t.Errorf("%s: matches the schema", name)
		}
	}
}
