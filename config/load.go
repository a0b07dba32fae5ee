package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	_ "time/tzdata" // page.time_zone must validate in images without zoneinfo

	kmaps "github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// LoadOptions says where Load reads the configuration from.
type LoadOptions struct {
	// File is the YAML file; "" means defaults, env and flags only.
	File string
	// Env holds "KEY=VALUE" pairs, os.Environ() in main. TOCSIN_ variables
	// whose name contains "__", and the few a replica's own settings take
	// (envKey), override the file, and ${VAR} in file and env values is
	// expanded from it.
	Env []string
	// Flags, if not nil, overrides env with the flags RegisterFlags defines,
	// but only those set explicitly on the command line.
	Flags *pflag.FlagSet
	// SyntaxOnly leaves the files the config names unread: *_file secrets
	// and ca_file bundles, which often exist only where the config runs
	// (a pod's mounted Secret). Every other key and rule is checked; what
	// the rules would say of the values those files hold is not
	// (Config.UnreadFiles). A config loaded so must never be put in force.
	SyntaxOnly bool
}

// envPrefix starts every environment variable tocsin reads as config.
const envPrefix = "TOCSIN_"

// RegisterFlags defines on fs the flags Load reads from LoadOptions.Flags
// (--listen, --redis-url, --log-level, --log-format, --source-address,
// --vantage) and --config, so the command and Load agree on their names.
func RegisterFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file path")
	fs.String("listen", "", `address for the status API, page and metrics (server.listen, default ":8080")`)
	fs.String("redis-url", "", "Redis URL, e.g. redis://redis:6379/0 (redis.url; empty: embedded store)")
	fs.String("log-level", "", "log level: debug, info, warn (or warning) or error (log.level, default info)")
	fs.String("log-format", "", "log format: json or text (or logfmt) (log.format, default json)")
	fs.String("source-address", "", "local IP address the probes connect from (scheduler.source_address; env TOCSIN_SOURCE_ADDRESS)")
	fs.String("vantage", "", "this replica's vantage (scheduler.vantage; env TOCSIN_VANTAGE)")
}

// flagKey returns the key path a flag sets, or "" for flags Load ignores.
func flagKey(name string) string {
	switch name {
	case "listen":
		return "server.listen"
	case "redis-url":
		return "redis.url"
	case "log-level":
		return "log.level"
	case "log-format":
		return "log.format"
	case "source-address":
		return "scheduler.source_address"
	case "vantage":
		return "scheduler.vantage"
	}
	return ""
}

// envKey returns the key path an environment variable sets, or "" for
// one Load ignores: TOCSIN_ names with "__", and the few without it that
// set one replica's own settings, as a pod's environment does.
func envKey(name string) string {
	switch name {
	case "TOCSIN_SOURCE_ADDRESS":
		return "scheduler.source_address"
	case "TOCSIN_VANTAGE":
		return "scheduler.vantage"
	}
	rest, ok := strings.CutPrefix(name, envPrefix)
	if !ok || !strings.Contains(rest, "__") {
		return ""
	}
	return strings.Join(strings.Split(strings.ToLower(rest), "__"), ".")
}

// Load reads the configuration: defaults, then the file, then TOCSIN_
// environment variables, then explicitly set flags. It rejects unknown keys
// and values of the wrong type, expands ${VAR}, reads *_file secrets
// (relative paths, like tls.ca_file, are taken relative to the file's
// directory and stored resolved), gives checks the values they do not set
// from defaults, and validates the result. The error lists every problem
// found, one "key.path: reason" per line in config order, and never contains
// a secret value.
func Load(opts LoadOptions) (*Config, error) {
	cfg, err := Inspect(opts)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// Inspect is Load for commands that report problems rather than run a
// config (tocsin validate). With the error it returns the config as far as
// it could be read, nil only if the file cannot be read or parsed: unknown
// keys and values of the wrong type are reported and left out (zero), and
// Validate's rules run on the rest in the same pass, so that one run lists
// the problems of both stages. A config returned with an error must never be
// put in force; it is there for further checks (building the probers).
func Inspect(opts LoadOptions) (*Config, error) {
	l := &loader{opts: opts, env: environMap(opts.Env)}
	if opts.File != "" {
		l.base = filepath.Dir(opts.File)
	}
	raw, w, err := l.walked()
	if err != nil {
		return nil, err
	}
	read := slices.Clone(l.probs) // values these name were left out
	cfg, err := w.decode(raw)
	if err != nil {
		return nil, append(l.probs, &problem{msg: err.Error(), err: err}).join(l.cleanSecrets())
	}
	l.resolveFiles(cfg)
	for _, key := range l.unread {
		read = append(read, &problem{path: key}) // what the rules say of them is moot
	}
	cfg.unread = l.unread
	cfg.applyCheckDefaults()
	cfg.applyVantageDefaults()
	cfg.applyMaintenanceDefaults()
	cfg.applyNotifyDefaults()
	cfg.Log.normalise()
	cfg.secrets = &secretList{values: cfg.collectSecrets(l.secrets)}
	if err := append(l.probs, cfg.validate().without(read)...).join(cfg.Secrets()); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// walked reads the raw map and walks it: what it returns is checked and
// normalised, and what the walker rejected is in l.probs.
func (l *loader) walked() (map[string]any, walker, error) {
	w := walker{probs: &l.probs, fields: map[reflect.Type]map[string]field{}}
	raw, err := l.read()
	if err != nil {
		return nil, w, err
	}
	if out, ok := w.walk("", reflect.TypeFor[Config](), raw); ok {
		raw = out.(map[string]any)
	}
	return raw, w, nil
}

// loader carries the state of one Load.
type loader struct {
	opts    LoadOptions
	env     map[string]string
	base    string // directory relative file paths are resolved against
	probs   problems
	secrets []string // ${VAR} expansions and *_file contents
	unread  []string // with SyntaxOnly, the keys whose files were not read
}

// cleanSecrets returns the secrets found so far, ready for scrub.
func (l *loader) cleanSecrets() []string { return cleanSecrets(l.secrets) }

// read merges defaults, file, env and flags in a fresh koanf instance and
// returns a copy of the merged map. Problems with env values are recorded;
// an unreadable or unparsable file is returned as an error.
func (l *loader) read() (map[string]any, error) {
	k := koanf.New(".")
	if err := k.Load(ownMap(defaultValues()), nil); err != nil {
		return nil, fmt.Errorf("config: defaults: %w", err)
	}
	var lists map[string]any
	if l.opts.File != "" {
		var err error
		if lists, err = l.loadFile(k); err != nil {
			return nil, err
		}
	}
	if err := l.loadEnv(k); err != nil {
		return nil, fmt.Errorf("config: env: %w", err)
	}
	if err := l.loadFlags(k); err != nil {
		return nil, fmt.Errorf("config: flags: %w", err)
	}
	raw := k.Raw()
	maps.Copy(raw, lists)
	return raw, nil
}

// fileOnlyLists are the top-level keys holding lists of objects
// (components, checks, maintenance, notify): only the file sets them
// (envTarget refuses them, no flag names them), and koanf would only copy
// them whole, by reflection, on the way through (Raw: 0.35 s for 50,000
// checks, config/bench_test.go). read keeps them out of koanf.
func fileOnlyLists(mp map[string]any) map[string]any {
	out := map[string]any{}
	for key, f := range fieldsByKey(reflect.TypeFor[Config]()) {
		if v, ok := mp[key]; ok && f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.Struct {
			out[key] = v
			delete(mp, key)
		}
	}
	return out
}

// loadFile merges the file into k but for its lists of objects, which it
// returns (fileOnlyLists).
func (l *loader) loadFile(k *koanf.Koanf) (map[string]any, error) {
	b, err := file.Provider(l.opts.File).ReadBytes()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	mp, err := parseYAML(b)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", l.opts.File, err)
	}
	kmaps.IntfaceKeysToStrings(mp)
	dropNulls(mp)
	l.expandTree("", mp)
	lists := fileOnlyLists(mp)
	if err := k.Load(ownMap(mp), nil); err != nil {
		return nil, fmt.Errorf("config: %s: %w", l.opts.File, err)
	}
	return lists, nil
}

// dropNulls deletes null values from maps, so that "server:" with nothing
// under it, or "listen: ~", leaves the defaults in place instead of erasing
// them.
func dropNulls(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			dropNulls(e)
		}
	case []any:
		for _, e := range x {
			dropNulls(e)
		}
	}
}

// loadEnv merges TOCSIN_ variables whose name contains "__", and the few
// without it that envKey knows. Other names without it are ignored:
// Kubernetes sets TOCSIN_PORT, TOCSIN_SERVICE_HOST and the like for a
// service named tocsin. Names with it must name a key.
func (l *loader) loadEnv(k *koanf.Koanf) error {
	mp := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(l.env)) {
		key := envKey(name)
		if key == "" {
			continue
		}
		where := "env " + name
		segs := strings.Split(key, ".")
		f, msg := envTarget(segs)
		if msg == "" && strings.Join(segs, ".") == keyAllowNoChecks {
			msg = fileOnlyAllowNoChecks
		}
		if msg != "" {
			l.probs.add(where, msg)
			continue
		}
		s, ok := l.expand(where, l.env[name])
		if !ok {
			continue
		}
		v, msg := envValue(segs[len(segs)-1], f, s)
		if msg != "" {
			l.probs.add(where, msg)
			continue
		}
		setPath(mp, segs, v)
	}
	return k.Load(ownMap(mp), nil)
}

// loadFlags merges the flags that were set explicitly. The shell has already
// expanded their values, so ${VAR} is not expanded again.
func (l *loader) loadFlags(k *koanf.Koanf) error {
	if l.opts.Flags == nil {
		return nil
	}
	mp := map[string]any{}
	l.opts.Flags.Visit(func(f *pflag.Flag) {
		if key := flagKey(f.Name); key != "" {
			setPath(mp, strings.Split(key, "."), f.Value.String())
		}
	})
	return k.Load(ownMap(mp), nil)
}

// setPath sets the value at the nested key path segs in mp.
func setPath(mp map[string]any, segs []string, v any) {
	for _, s := range segs[:len(segs)-1] {
		next, ok := mp[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			mp[s] = next
		}
		mp = next
	}
	mp[segs[len(segs)-1]] = v
}

// Overrides returns the key paths the environment and the explicitly set
// flags of opts set over the file ("server.listen"): a problem there is
// not where the file writes the key.
func Overrides(opts LoadOptions) []string {
	var keys []string
	for name := range environMap(opts.Env) {
		if key := envKey(name); key != "" {
			keys = append(keys, key)
		}
	}
	if opts.Flags != nil {
		opts.Flags.Visit(func(f *pflag.Flag) {
			if key := flagKey(f.Name); key != "" {
				keys = append(keys, key)
			}
		})
	}
	slices.Sort(keys)
	return keys
}

// environMap turns KEY=VALUE pairs into a map; the first of duplicate keys
// wins, as with os.Getenv.
func environMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}

// ownMap is a koanf provider of a map the loader made and hands over:
// unlike confmap.Provider it does not deep-copy it (by reflection: 0.75 s
// for 50,000 checks), which nothing needs, since the koanf instance is
// read()'s own and every map merged into it is fresh.
type ownMap map[string]any

// ReadBytes is not supported: the map is already parsed.
func (ownMap) ReadBytes() ([]byte, error) {
	return nil, errors.New("config: ownMap has no bytes; use Read")
}

// Read returns the map itself.
func (m ownMap) Read() (map[string]any, error) { return m, nil }
