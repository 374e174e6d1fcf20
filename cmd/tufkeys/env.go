package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envVar is one TUFKEYS_* variable: the one place that says what it means
// and which flags it fills. A flag that no variable names reads nothing from
// the environment; hidden and deprecated flags never do, and neither do
// switches that change state or turn a check off (--stage, --move-origin,
// --accept-unknown-publish-time, --skip-verification): those must be typed.
type envVar struct {
	Name string
	// Flag is the flag the variable fills on every command that has it.
	Flag string
	// On lists, by command path, the flag it fills where the flag is
	// named otherwise; with it set, Flag is not used.
	On map[string]string
	// Description is the variable's one meaning, for the table.
	Description string
	// Sensitive variables are never printed, not even in an error.
	Sensitive bool
}

// envVars are every variable tufkeys reads, in the order of the table.
var envVars = []envVar{
	{Name: "TUFKEYS_REPO", Flag: "repo", Description: "the repository URLs the client reads, comma-separated, tried in order"},
	{Name: "TUFKEYS_ROOT", Flag: "root", Description: "the trusted root.json, when not the one embedded in the build"},
	{Name: "TUFKEYS_CACHE", Flag: "cache", Description: "the client's cache directory"},
	{Name: "TUFKEYS_SOURCE_REPOS", Flag: "source-repo", Description: "NAME=URL pairs, comma-separated, that point built-in sources at mirrors"},
	{Name: "TUFKEYS_MAX_AGE", Flag: "max-age", Description: "how long the cache answers without the network (0: ask every time)"},
	{Name: "TUFKEYS_OFFLINE", Flag: "offline", Description: "never use the network; answer from the cache while it is unexpired"},
	{Name: "TUFKEYS_ACCEPT_EXPIRED", Flag: "accept-expired", Description: "accept metadata that expired up to this long ago (at most 90d), for air-gapped networks"},
	{Name: "TUFKEYS_REFRESH_INTERVAL", Flag: "refresh-interval", Description: "the least time between two refreshes forced by unknown keyids or registries"},
	{Name: "TUFKEYS_REGISTRY", On: map[string]string{
		"tufkeys keys": "registry", "tufkeys exec": "registry", "tufkeys history": "registry", "tufkeys verify": "keys-host",
	}, Description: "the registry hosts whose verified key lists are used, comma-separated (verify fetches the version from npm's registry)"},
	{Name: "TUFKEYS_WORKSPACE", Flag: "workspace", Description: "the ceremony workspace"},
	{Name: "TUFKEYS_ONLINE_KEY", On: map[string]string{
		"tufkeys repo publish": "online-key", "tufkeys repo timestamp": "online-key",
	}, Description: "the online key's private key reference (file, pkcs11:, awskms://) for publish and timestamp", Sensitive: true},
	{Name: "TUFKEYS_PUBLISH_TO", On: map[string]string{
		"tufkeys repo publish": "to", "tufkeys repo timestamp": "to",
	}, Description: "where publish and timestamp write the repository: a directory or s3://BUCKET/PREFIX"},
	{Name: "TUFKEYS_ENDPOINT_URL", Flag: "endpoint-url", Description: "the S3 endpoint, for S3-compatible stores"},
	{Name: "TUFKEYS_REGION", Flag: "region", Description: "the S3 region"},
	{Name: "TUFKEYS_PATH_STYLE", Flag: "path-style", Description: "address the S3 bucket in the path, not the host name"},
	{Name: "TUFKEYS_TIMESTAMP_MAX_AGE", Flag: "timestamp-max-age", Description: "the cache life servers and CDNs give timestamp.json"},
	{Name: "TUFKEYS_STATUS_PAGE", Flag: "status-page", Description: "whether publish and timestamp write the status page (false leaves it to other runs)"},
	{Name: "TUFKEYS_PASSPHRASE", Description: "the passphrase of encrypted key files, for unattended use", Sensitive: true},
	{Name: "TUFKEYS_ONLINE_PASSPHRASE", Description: "the passphrase of the online key's file, for publish and timestamp; else TUFKEYS_PASSPHRASE", Sensitive: true},
	{Name: "TUFKEYS_LOG_PASSPHRASE", Description: "the passphrase of the transparency log key's file, for publish and timestamp; else TUFKEYS_PASSPHRASE", Sensitive: true},
	{Name: "TUFKEYS_PKCS11_PIN", Description: "the PIN of a hardware token, for unattended use", Sensitive: true},
}

// flagOf is the flag the variable fills on cmd, empty when none.
func (v envVar) flagOf(cmd *cobra.Command) string {
	if v.On != nil {
		return v.On[cmd.CommandPath()]
	}
	return v.Flag
}

// envFor is the variable that fills flag on cmd, if any.
func envFor(cmd *cobra.Command, f *pflag.Flag) (envVar, bool) {
	if f.Hidden || f.Deprecated != "" {
		return envVar{}, false
	}
	for _, v := range envVars {
		if v.flagOf(cmd) == f.Name {
			return v, true
		}
	}
	return envVar{}, false
}

// flagsFromEnv gives every flag the user left out its declared variable,
// when set: the command line wins, then the environment, then the default.
// Repeatable flags take a comma-separated list.
func flagsFromEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		v, ok := envFor(cmd, f)
		if !ok {
			return
		}
		raw, set := os.LookupEnv(v.Name)
		if !set || strings.TrimSpace(raw) == "" {
			return
		}
		values := []string{raw}
		if strings.HasSuffix(f.Value.Type(), "Slice") || strings.HasSuffix(f.Value.Type(), "Array") {
			values = strings.FieldsFunc(raw, func(r rune) bool { return r == ',' })
		}
		if f.Value.Type() == "bool" {
			b, perr := parseBool(raw)
			if perr != nil {
				err = usagef("%s is %s: give true or false", v.Name, shown(v, raw))
				return
			}
			values = []string{strconv.FormatBool(b)}
		}
		for _, one := range values {
			if serr := cmd.Flags().Set(f.Name, strings.TrimSpace(one)); serr != nil {
				if v.Sensitive {
					err = usagef("%s is not a valid --%s value", v.Name, f.Name)
				} else {
					err = usagef("%s=%q: %v", v.Name, raw, serr)
				}
				return
			}
		}
		cmd.Flags().SetAnnotation(f.Name, fromEnvAnnotation, []string{v.Name})
	})
	return err
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "on":
		return true, nil
	case "0", "f", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

// shown is a variable's value as a message may print it.
func shown(v envVar, raw string) string {
	if v.Sensitive {
		return "set to a value that is not shown"
	}
	return strconv.Quote(raw)
}

// fromEnvAnnotation marks a flag whose value came from its variable.
const fromEnvAnnotation = "tufkeys-from-env"

// givenOnCommandLine reports whether the user typed the flag.
func givenOnCommandLine(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed && f.Annotations[fromEnvAnnotation] == nil
}

// documentEnv names each flag's variable in its help.
func documentEnv(cmd *cobra.Command) {
	for _, fs := range []*pflag.FlagSet{cmd.LocalNonPersistentFlags(), cmd.PersistentFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			if v, ok := envFor(cmd, f); ok && !strings.Contains(f.Usage, v.Name) {
				f.Usage += " (env " + v.Name + ")"
			}
		})
	}
	for _, c := range cmd.Commands() {
		documentEnv(c)
	}
}

// envUsers lists where a variable applies, for the table.
func envUsers(v envVar) string {
	if v.On != nil {
		var out []string
		for _, path := range slices.Sorted(maps.Keys(v.On)) {
			out = append(out, "`"+strings.TrimPrefix(path, "tufkeys ")+" --"+v.On[path]+"`")
		}
		return strings.Join(out, ", ")
	}
	if v.Flag == "" {
		return "read when a key is opened"
	}
	return "`--" + v.Flag + "`"
}

// environmentTable is the Markdown table of every variable: in the README
// and in tufkeys help environment, kept in step by a test.
func environmentTable() string {
	var b strings.Builder
	b.WriteString("| variable | fills | meaning |\n|---|---|---|\n")
	for _, v := range envVars {
		meaning := v.Description
		if v.Sensitive {
			meaning += " (sensitive: never printed)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, envUsers(v), meaning)
	}
	return b.String()
}

func newEnvironmentTopic() *cobra.Command {
	c := &cobra.Command{
		Use:   "environment",
		Short: "The TUFKEYS_* variables and what each one means",
	}
	c.Long = `Each variable has one meaning in every command, and fills the flag it names
when the command line leaves that flag out. No other flag reads the
environment: switches that change state or turn a check off must be typed.
Values of sensitive variables are never printed.

` + environmentTable()
	return c
}
