package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/corepack"
	"github.com/tufkeys/tufkeys/internal/duration"
	"github.com/tufkeys/tufkeys/internal/registry"
	repometadata "github.com/tufkeys/tufkeys/repo-metadata"
)

// clientFlags are the flags of every command that reads the repository,
// each with its TUFKEYS_* environment variable.
type clientFlags struct {
	Repos []string
	Root  string
	Cache string
	// SourceRepos are NAME=URL pairs that point a built-in source at other
	// URLs (a mirror inside an air-gapped network).
	SourceRepos []string
	// MaxAge is the --max-age duration, e.g. "30m", "1d" or "0"; empty
	// keeps the client's default.
	MaxAge  string
	Offline bool
	// AcceptExpired is the --accept-expired period, e.g. "14d".
	AcceptExpired string
	// RefreshInterval is the --refresh-interval duration; empty keeps the
	// client's default.
	RefreshInterval string
	// set records which flags the user gave, so the environment fills the rest
	set func(name string) bool
	// parsed is what options made of the flags, the first time: --root -
	// reads standard input, which can be read once
	parsed *client.Options
}

func addClientFlags(cmd *cobra.Command, f *clientFlags) {
	addCacheLocationFlags(cmd, f)
	fs := cmd.Flags()
	fs.StringVar(&f.MaxAge, "max-age", "", "how long the cache answers without the network, e.g. 30m or 1d; 0 asks the repository every time (env TUFKEYS_MAX_AGE; default "+duration.String(client.DefaultMaxAge)+")")
	fs.BoolVar(&f.Offline, "offline", false, "never use the network; answer from the cache while its metadata is unexpired (env TUFKEYS_OFFLINE)")
	fs.StringVar(&f.RefreshInterval, "refresh-interval", "", "the least time between two refreshes forced by an unknown keyid or registry, kept in the cache (env TUFKEYS_REFRESH_INTERVAL; default "+duration.String(client.DefaultRefreshInterval)+")")
	fs.StringVar(&f.AcceptExpired, "accept-expired", "", "accept metadata that expired up to this long ago, e.g. 14d, at most 90d; weakens freeze protection (env TUFKEYS_ACCEPT_EXPIRED)")
}

// addCacheLocationFlags adds the flags that say which cache and
// repository a command means, and nothing about how fresh an answer must
// be: what cache clear takes.
func addCacheLocationFlags(cmd *cobra.Command, f *clientFlags) {
	fs := cmd.Flags()
	fs.StringArrayVar(&f.Repos, "repo", nil, "repository URL, tried in order when repeated (env TUFKEYS_REPO, comma-separated)")
	fs.StringVar(&f.Root, "root", "", "trusted root.json (env TUFKEYS_ROOT; default: the root embedded in this build)")
	fs.StringVar(&f.Cache, "cache", "", "cache directory (env TUFKEYS_CACHE; default: the user cache directory)")
	fs.StringArrayVar(&f.SourceRepos, "source-repo", nil, "NAME=URL: read the built-in source NAME (deployment, sigstore) from URL, a mirror, instead; repeatable (env TUFKEYS_SOURCE_REPOS, comma-separated)")
	f.set = func(name string) bool { return givenOnCommandLine(fs, name) }
}

// given repeats the repository flags the user gave on the command line,
// for a command to print as the next one to run.
func (f *clientFlags) given() []string {
	var out []string
	if f.set == nil {
		return nil
	}
	if f.set("repo") {
		for _, r := range f.Repos {
			out = append(out, "--repo", r)
		}
	}
	for _, fl := range []struct{ name, value string }{{"root", f.Root}, {"cache", f.Cache}, {"accept-expired", f.AcceptExpired}, {"refresh-interval", f.RefreshInterval}} {
		if f.set(fl.name) {
			out = append(out, "--"+fl.name, fl.value)
		}
	}
	return out
}

// options turns the flags (filled from the TUFKEYS_* variables the
// command line leaves unset, by flagsFromEnv) into client options;
// warnings go to standard error.
func (f *clientFlags) options(std streams) (client.Options, error) {
	if f.parsed != nil {
		opts := *f.parsed
		opts.Repositories = slices.Clone(opts.Repositories)
		return opts, nil
	}
	opts, err := f.parse(std)
	if err != nil {
		return opts, err
	}
	kept := opts
	f.parsed = &kept
	return f.options(std)
}

// parse makes the client's options of the flags.
func (f *clientFlags) parse(std streams) (client.Options, error) {
	for _, r := range f.Repos {
		if err := checkRepository(r); err != nil {
			return client.Options{}, err
		}
	}
	opts := client.Options{
		Repositories: f.Repos,
		CacheDir:     f.Cache,
		Offline:      f.Offline,
		Logger:       warnLogger(std),
	}
	if f.MaxAge != "" {
		d, err := duration.Parse(f.MaxAge)
		if err != nil {
			return opts, usagef("--max-age (or TUFKEYS_MAX_AGE): %v", err)
		}
		opts.MaxAge = client.Age(d)
	}
	if f.RefreshInterval != "" {
		d, err := duration.Parse(f.RefreshInterval)
		if err != nil {
			return opts, usagef("--refresh-interval (or TUFKEYS_REFRESH_INTERVAL): %v", err)
		}
		opts.RefreshInterval = client.Age(d)
	}
	if f.AcceptExpired != "" {
		d, err := duration.Parse(f.AcceptExpired)
		if err != nil {
			return opts, usagef("--accept-expired (or TUFKEYS_ACCEPT_EXPIRED): %v", err)
		}
		if d > client.MaxAcceptExpired {
			return opts, usagef("--accept-expired %s is beyond the %s allowed: export a fresher archive instead", f.AcceptExpired, duration.String(client.MaxAcceptExpired))
		}
		opts.AcceptExpired = d
	}
	if f.Root != "" {
		root, err := readInput(std, f.Root, 1<<20)
		if err != nil {
			return opts, fileError(f.Root, "trusted root", err)
		}
		if len(bytes.TrimSpace(root)) == 0 {
			// an empty root would mean "the embedded one" to the client
			return opts, fmt.Errorf("the trusted root %s is empty: give the root.json your repository's maintainers published", f.Root)
		}
		opts.TrustedRoot = root
	}
	return opts, nil
}

// withDefaultSource fills a root the flags leave out with the build's
// first source (and its URLs, when they leave those out too).
func withDefaultSource(opts client.Options) (client.Options, error) {
	if len(opts.TrustedRoot) > 0 {
		return opts, nil
	}
	srcs := builtinSources()
	if len(srcs) == 0 {
		return opts, fmt.Errorf("%w: none was given and this build embeds none", client.ErrNoRoot)
	}
	opts.TrustedRoot = srcs[0].Root
	if len(opts.Repositories) == 0 {
		opts.Repositories = srcs[0].Repositories
	}
	return opts, nil
}

// open makes the client the flags describe: --root and --repo (or their
// variables), else the build's first source. Commands about a registry
// use openFor, which asks every source.
func (f *clientFlags) open(std streams) (*client.Client, error) {
	return f.openOr(std, "")
}

// builtinSources are the sources a command uses when neither --root nor
// --repo (nor their variables) names one; tests replace it, so that
// nothing they run reaches beyond loopback.
var builtinSources = client.BuiltinSources

// sources makes the sources the flags describe: --root and --repo (or
// their variables) are one source that replaces the build's; else the
// build's sources, each with its own cache.
func (f *clientFlags) sources(std streams) (*client.Sources, error) {
	opts, err := f.options(std)
	if err != nil {
		return nil, err
	}
	if len(opts.TrustedRoot) > 0 || len(opts.Repositories) > 0 {
		if opts, err = withDefaultSource(opts); err != nil {
			return nil, err
		}
		cl, err := f.newClient(opts)
		if err != nil {
			return nil, err
		}
		return client.OneSource("given", cl), nil
	}
	srcs, err := f.builtinWithMirrors()
	if err != nil {
		return nil, err
	}
	return client.NewSources(opts, srcs)
}

// builtinWithMirrors is the build's sources, each pointed at the URLs
// --source-repo names for it, in the order given.
func (f *clientFlags) builtinWithMirrors() ([]client.Source, error) {
	srcs := builtinSources()
	byName := map[string][]string{}
	for _, pair := range f.SourceRepos {
		name, url, ok := strings.Cut(pair, "=")
		if !ok || name == "" || url == "" {
			return nil, usagef("--source-repo %q is not NAME=URL, such as sigstore=https://mirror.example.test/sigstore", pair)
		}
		if !slices.ContainsFunc(srcs, func(s client.Source) bool { return s.Name == name }) {
			var names []string
			for _, s := range srcs {
				names = append(names, s.Name)
			}
			return nil, usagef("--source-repo names %q, which is not a source of this build (%s)", name, strings.Join(names, ", "))
		}
		if err := checkRepoURL(url); err != nil {
			return nil, err
		}
		byName[name] = append(byName[name], url)
	}
	for i := range srcs {
		if urls, ok := byName[srcs[i].Name]; ok {
			srcs[i].Repositories = urls
		}
	}
	return srcs, nil
}

// checkRepository refuses a --repo that is neither a path nor an http(s)
// or file URL: a usage error, before any cache is touched.
func checkRepository(raw string) error {
	if !strings.Contains(raw, "://") {
		return nil // a directory or an archive file
	}
	u, err := url.Parse(raw)
	if err == nil && u.Scheme == "file" {
		return nil
	}
	return checkRepoURL(raw)
}

// checkRepoURL refuses a repository URL that is not one: a usage error
// that touches nothing.
func checkRepoURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("%q is not a repository URL: give an http(s) URL such as https://keys.example.test/tuf", raw)
	}
	return nil
}

// openFor is the client of the source that answers for the registries
// (hosts): the first source whose verified metadata lists the first of
// them. Registries answered by different sources are named one command
// each, so that no command merges lists across sources.
func (f *clientFlags) openFor(ctx context.Context, std streams, hosts []string) (*client.Client, error) {
	srcs, err := f.sources(std)
	if err != nil {
		return nil, err
	}
	var first client.SourceClient
	for i, h := range hosts {
		sc, err := srcs.For(ctx, h)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = sc
			continue
		}
		if sc.Source.Name != first.Source.Name {
			return nil, usagef("%s's key list comes from the source %s and %s's from %s: name registries of one source per command", hosts[0], first.Source.Name, h, sc.Source.Name)
		}
	}
	return first.Client, nil
}

// openOr is open for commands that name a repository of their own: it is
// the client's repository unless --repo or TUFKEYS_REPO says otherwise.
func (f *clientFlags) openOr(std streams, repo string) (*client.Client, error) {
	opts, err := f.options(std)
	if err != nil {
		return nil, err
	}
	if len(opts.Repositories) == 0 && repo != "" {
		opts.Repositories = []string{repo}
	}
	if opts, err = withDefaultSource(opts); err != nil {
		return nil, err
	}
	return f.newClient(opts)
}

// newClient is client.New with a trusted root the user named that is not
// root metadata reported as the usage error it is, naming the file.
func (f *clientFlags) newClient(opts client.Options) (*client.Client, error) {
	cl, err := client.New(opts)
	var bad *client.RootError
	if f.Root != "" && errors.As(err, &bad) {
		return nil, usagef("the trusted root %s is not TUF root metadata: %s; pass the root.json your repository's maintainers published", f.Root, bad.Reason)
	}
	return cl, err
}

// warnLogger prints the client's warnings as every tufkeys warning is
// printed: one plain line, "tufkeys: warning: …", details in parentheses.
func warnLogger(std streams) *slog.Logger {
	return slog.New(&warnHandler{w: std.Err, printed: &printedLines{seen: map[string]bool{}}})
}

type warnHandler struct {
	w     io.Writer
	attrs []slog.Attr
	// printed is shared by the handler's copies: a warning a command meets
	// twice (two lookups that both fall back to the cache) is printed once
	printed *printedLines
}

type printedLines struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (h *warnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *warnHandler) Handle(_ context.Context, r slog.Record) error {
	var details []string
	add := func(a slog.Attr) bool {
		details = append(details, a.Key+": "+a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	line := "tufkeys: warning: " + r.Message
	if len(details) > 0 {
		line += " (" + strings.Join(details, "; ") + ")"
	}
	line = oneLine(line)
	h.printed.mu.Lock()
	defer h.printed.mu.Unlock()
	if h.printed.seen[line] {
		return nil
	}
	h.printed.seen[line] = true
	_, err := fmt.Fprintln(h.w, line)
	return err
}

func (h *warnHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &warnHandler{w: h.w, attrs: append(slices.Clone(h.attrs), attrs...), printed: h.printed}
}

func (h *warnHandler) WithGroup(string) slog.Handler { return h }

// completeRegistries completes a registry flag with the hosts whose key
// lists the cache holds; it never touches the network.
func completeRegistries(f *clientFlags, std streams) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		// completion runs no pre-run hooks: the variables are read here
		if err := flagsFromEnv(cmd); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		co, err := f.options(std)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		co.Offline, co.Logger = true, slog.New(slog.NewTextHandler(io.Discard, nil))
		cl, err := client.New(co)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		info, err := cl.CacheInfo(cmd.Context())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var hosts []string
		for _, name := range info.KeyLists {
			if h, ok := bundle.HostOfTarget(name); ok && strings.HasPrefix(h, toComplete) {
				hosts = append(hosts, h)
			}
		}
		return hosts, cobra.ShellCompDirectiveNoFileComp
	}
}

type keysOptions struct {
	streams
	Client     clientFlags
	Registries []string
	Format     string
}

func newKeysCommand(std streams) *cobra.Command {
	opts := keysOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "keys [--registry URL|HOST] [--format table|json|npm|corepack|sigstore]",
		Short: "Print a registry's verified key list",
		Long: `Print the key list of a registry, verified through the TUF repository. The
registry is --registry, else npm_config_registry, else the registry of the
user's .npmrc. --format corepack prints a value for COREPACK_INTEGRITY_KEYS.
A list without keys is never printed (exit 1): Corepack reads an empty value
as "skip the check", so check the exit status before using the value, or let
tufkeys exec hand it over.`,
		Example: `  tufkeys keys --registry registry.example.test
  v=$(tufkeys keys --format corepack) || exit 1   # never export a failed lookup
  tufkeys exec -- corepack pnpm install            # better: Corepack gets the keys, or nothing runs`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runKeys(cmd.Context(), opts) },
	}
	cmd.Flags().StringArrayVar(&opts.Registries, "registry", nil, "registry URL or host; repeated, the verified lists are merged into one")
	addFormatFlag(cmd, &opts.Format, "table", "table", "json", "npm", "corepack", "sigstore")
	addClientFlags(cmd, &opts.Client)
	cmd.RegisterFlagCompletionFunc("registry", completeRegistries(&opts.Client, std))
	return cmd
}

func runKeys(ctx context.Context, opts keysOptions) error {
	format := opts.Format
	var form bundle.Form
	if format != "table" && format != "json" {
		f, err := bundle.ParseForm(format)
		if err != nil {
			return usagef("--format %q is not one of table, json, npm, corepack, sigstore", format)
		}
		form = f
	}
	var hosts []string
	for _, r := range append(opts.Registries, "")[:max(1, len(opts.Registries))] {
		_, host, err := resolveRegistry(r)
		if err != nil {
			return err
		}
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	cl, err := opts.Client.openFor(ctx, opts.streams, hosts)
	if err != nil {
		return err
	}
	list, notes, err := cl.MergedKeys(ctx, hosts)
	if err != nil {
		return err
	}
	// never a list without keys: Corepack reads an empty one as "skip the check"
	if _, err := corepack.Value(list); err != nil {
		return fmt.Errorf("the verified key list of %s holds no key, and an empty list turns Corepack's check off: %w", strings.Join(hosts, ", "), err)
	}
	for _, n := range notes {
		warn(opts.streams, n)
	}
	host := strings.Join(hosts, ",")
	switch format {
	case "table":
		tw := tabwriter.NewWriter(opts.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "KEYID\tTYPE\tEXPIRES\n")
		now := time.Now()
		for _, k := range list.Keys {
			exp := "never"
			if k.Expires != nil {
				exp = *k.Expires
			}
			// an expired key still verifies what was signed before its
			// expiry; the table says which keys those are
			if k.ExpiredAt(now) {
				exp += " (expired)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.KeyID, k.KeyType, exp)
		}
		return tw.Flush()
	case "json":
		npm, err := bundle.Encode(list, bundle.FormNPM)
		if err != nil {
			return err
		}
		// the registry's own form, with the registry it belongs to
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(npm, &doc); err != nil {
			return err
		}
		doc["registry"], _ = json.Marshal(host)
		doc["registries"], _ = json.Marshal(hosts)
		out, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(opts.Out, string(out))
		return nil
	default:
		out, err := bundle.Encode(list, form)
		if err != nil {
			return err
		}
		_, err = opts.Out.Write(out)
		return err
	}
}

// resolveRegistry finds the registry the user means (the flag, else npm's
// configuration) and the host its key list is indexed by.
func resolveRegistry(flag string) (url, host string, err error) {
	if url, err = registry.Resolve(flag, cwd()); err != nil {
		return "", "", err
	}
	host, err = bundle.RegistryHost(url)
	return url, host, err
}

func cwd() string {
	d, _ := os.Getwd()
	return d
}

type verifyOnlineOptions struct {
	streams
	Format    string
	Client    clientFlags
	Spec      string
	Registry  string
	KeysHosts []string
	Published string
	// AcceptUnknownPublished lets an expiring key count without a publish time.
	AcceptUnknownPublished bool
}

func runVerifyOnline(ctx context.Context, opts verifyOnlineOptions) error {
	name, version, err := registry.SplitSpec(opts.Spec)
	if err != nil {
		return usageError{err}
	}
	var published time.Time
	if opts.Published != "" {
		if published, err = time.Parse(time.RFC3339Nano, opts.Published); err != nil {
			return usagef("--published %q is not an RFC 3339 time such as 2025-01-10T08:00:00Z", opts.Published)
		}
	}
	reg, err := registry.Resolve(opts.Registry, cwd())
	if err != nil {
		return err
	}
	keysHosts := opts.KeysHosts
	if len(keysHosts) == 0 {
		keysHosts = []string{reg}
	}
	for i, h := range keysHosts {
		if keysHosts[i], err = bundle.RegistryHost(h); err != nil {
			return err
		}
	}
	keysHost := strings.Join(keysHosts, ",")
	cl, err := opts.Client.openFor(ctx, opts.streams, keysHosts)
	if err != nil {
		return err
	}
	if _, err := registry.New(reg, nil, 0); err != nil {
		return usageError{err}
	}
	v, err := cl.VerifyPackage(ctx, reg, name, version, client.PackageOptions{KeysHosts: keysHosts, Published: published, AcceptUnknownPublished: opts.AcceptUnknownPublished})
	note := v.PublishNote
	if note != "" && (err == nil || errors.Is(err, bundle.ErrUnknownKeyID)) {
		warn(opts.streams, note)
	}
	if err != nil {
		for _, verdict := range []error{bundle.ErrUnknownKeyID, bundle.ErrBadSignature, bundle.ErrExpiredKey, bundle.ErrPublishTimeUnknown, bundle.ErrUnsigned} {
			if errors.Is(err, verdict) {
				return fmt.Errorf("refused: %w", err)
			}
		}
		return err
	}
	if opts.Format == "json" {
		r := newVerifyReport(v.Result)
		r.KeysHost, r.Refreshed, r.Note = orNull(keysHost), v.Refreshed, orNull(note)
		return writeJSON(opts.Out, r)
	}
	line := verdictLine(v.Result)
	if v.Refreshed {
		line += " (the key list was refreshed first: the registry rotated its key)"
	}
	fmt.Fprintln(opts.Out, line)
	return nil
}

type refreshOptions struct {
	streams
	Client clientFlags
	Format string
}

func newRefreshCommand(std streams) *cobra.Command {
	opts := refreshOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "refresh",
		Short: "Bring the verified cache up to date now",
		Long: `Run a TUF update now, whatever the cache's age, and fetch again every key list
the cache holds. Nothing is cached unless it verifies against the trusted root.`,
		Example: `  tufkeys refresh --repo https://keys.example.test/tuf --root root.json`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := opts.Client.open(opts.streams)
			if err != nil {
				return err
			}
			res, err := cl.Refresh(cmd.Context())
			if err != nil {
				return err
			}
			if opts.Format == "json" {
				return writeJSON(opts.Out, refreshReport{res.Repository, nonNil(res.Dropped)})
			}
			fmt.Fprintf(opts.Out, "refreshed from %s\n", res.Repository)
			for _, name := range res.Dropped {
				fmt.Fprintf(opts.Out, "dropped %s: the repository no longer lists it\n", name)
			}
			return nil
		},
	}
	addFormatFlag(cmd, &opts.Format, "text")
	addClientFlags(cmd, &opts.Client)
	return cmd
}

type cacheOptions struct {
	streams
	Client clientFlags
	Format string
}

func newCacheCommand(std streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect or clear the verified cache",
		Args:  subcommandArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	info := cacheOptions{streams: std}
	infoCmd := &cobra.Command{
		Use:     "info",
		Short:   "Show what the cache holds and whether it verifies",
		Example: `  tufkeys cache info`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCacheInfo(cmd.Context(), info)
		},
	}
	addFormatFlag(infoCmd, &info.Format, "text")
	addClientFlags(infoCmd, &info.Client)
	clear := cacheOptions{streams: std}
	clearCmd := &cobra.Command{
		Use:     "clear",
		Short:   "Remove everything the cache holds",
		Example: `  tufkeys cache clear`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCacheClear(cmd.Context(), clear)
		},
	}
	addCacheLocationFlags(clearCmd, &clear.Client)
	cmd.AddCommand(infoCmd, clearCmd)
	return cmd
}

// runCacheClear removes what the cache holds; how fresh an answer must
// be means nothing to it, so it takes only where the cache is.
func runCacheClear(ctx context.Context, opts cacheOptions) error {
	co, err := opts.Client.options(opts.streams)
	if err != nil {
		return err
	}
	if len(co.TrustedRoot) == 0 && len(co.Repositories) == 0 {
		// no repository named: the build's sources, or the directory given
		if len(builtinSources()) == 0 {
			if co.CacheDir == "" {
				return usagef("name the cache to clear with --cache DIR, or its repository with --root and --repo")
			}
			if err := client.ClearCacheDir(ctx, co.CacheDir); err != nil {
				return err
			}
			fmt.Fprintf(opts.Out, "cleared %s\n", co.CacheDir)
			return nil
		}
		srcs, err := opts.Client.sources(opts.streams)
		if err != nil {
			return err
		}
		for _, sc := range srcs.Clients() {
			if err := sc.Client.ClearCache(ctx); err != nil {
				return fmt.Errorf("source %s: %w", sc.Source.Name, err)
			}
			fmt.Fprintf(opts.Out, "cleared %s (source %s)\n", sc.Client.CacheDir(), sc.Source.Name)
		}
		return nil
	}
	// clearing must not create the cache it was asked to clear
	dir := co.CacheDir
	if dir == "" {
		repos := co.Repositories
		if len(repos) == 0 {
			repos = repometadata.Repositories()
		}
		if len(repos) > 0 {
			dir, _ = client.DefaultCacheDir(repos[0])
		}
	}
	if fi, err := os.Stat(dir); dir != "" && (err != nil || !fi.IsDir()) {
		return fmt.Errorf("there is no cache at %s: nothing to clear", dir)
	}
	cl, err := opts.Client.newClient(co)
	if err != nil {
		return err
	}
	if err := cl.ClearCache(ctx); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "cleared %s\n", cl.CacheDir())
	return nil
}

func runCacheInfo(ctx context.Context, opts cacheOptions) error {
	co, err := opts.Client.options(opts.streams)
	if err != nil {
		return err
	}
	if len(co.TrustedRoot) == 0 && len(co.Repositories) == 0 && len(builtinSources()) > 1 {
		// each source's cache, one report each
		srcs, err := opts.Client.sources(opts.streams)
		if err != nil {
			return err
		}
		unverified := 0
		for _, sc := range srcs.Clients() {
			info, err := sc.Client.CacheInfo(ctx)
			if err != nil {
				return fmt.Errorf("source %s: %w", sc.Source.Name, err)
			}
			if opts.Format != "json" {
				fmt.Fprintf(opts.Out, "source      %s\n", sc.Source.Name)
			}
			if err := printCacheInfo(opts, info); err != nil {
				return err
			}
			if !info.Verified {
				unverified++
			}
		}
		if unverified > 0 {
			return exitError{code: exitFail}
		}
		return nil
	}
	cl, err := opts.Client.open(opts.streams)
	if err != nil {
		return err
	}
	info, err := cl.CacheInfo(ctx)
	if err != nil {
		return err
	}
	if err := printCacheInfo(opts, info); err != nil {
		return err
	}
	if !info.Verified {
		// a script asks "can the cache answer?": say no with the status
		return exitError{code: exitFail}
	}
	return nil
}

func printCacheInfo(opts cacheOptions, info client.CacheInfo) error {
	if opts.Format == "json" {
		return writeJSON(opts.Out, newCacheReport(info))
	}
	dir := info.Dir
	if dir == "" {
		dir = "(in memory)"
	}
	fmt.Fprintf(opts.Out, "cache       %s\n", dir)
	if !info.CheckedAt.IsZero() {
		fmt.Fprintf(opts.Out, "repository  %s\nchecked     %s (%s)\n", info.Repository, info.CheckedAt.Format(time.RFC3339), freshness(info.Fresh))
	}
	if info.Problem != "" {
		fmt.Fprintf(opts.Out, "status      %s\n", info.Problem)
	} else {
		fmt.Fprintf(opts.Out, "status      verified\n")
	}
	for _, r := range info.Roles {
		fmt.Fprintf(opts.Out, "%-11s v%d, expires %s\n", r.Role, r.Version, r.Expires.Format(time.RFC3339))
	}
	for _, k := range info.KeyLists {
		fmt.Fprintf(opts.Out, "key list    %s\n", k)
	}
	return nil
}

func freshness(fresh bool) string {
	if fresh {
		return "fresh"
	}
	return "stale: the next lookup asks the repository"
}

// orNone is a list of names, or "none yet".
func orNone(names []string) string {
	if len(names) == 0 {
		return "none yet"
	}
	return strings.Join(names, ", ")
}
