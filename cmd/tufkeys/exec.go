package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/corepack"
	"github.com/tufkeys/tufkeys/internal/registry"
)

type execOptions struct {
	streams
	Client     clientFlags
	Registries []string
	// SkipVerification runs the command with Corepack's check off: the one
	// way to mean that, typed, never read from the environment.
	SkipVerification bool
	// Argv is the command and its arguments.
	Argv []string
	// Environ is the environment the command inherits; nil: this process's.
	Environ []string
}

func newExecCommand(std streams) *cobra.Command {
	opts := execOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "exec [client flags] [--registry URL|HOST] -- COMMAND [ARGS...]",
		Short: "Run a command with Corepack verifying against today's verified keys",
		Long: `Resolve the registries' key lists through the TUF repository, set
COREPACK_INTEGRITY_KEYS to them for COMMAND alone, and run it: its exit
status is tufkeys' exit status, and signals sent to tufkeys reach it.

When the keys cannot be verified (the repository unreachable and no
unexpired cache, frozen or tampered metadata, an empty list), COMMAND does
not run: one sentence, exit 1; with no registry configured, exit 2. A
version named before the run (corepack pnpm@10.1.0, or packageManager
without a hash) runs only when tufkeys verified it first. An empty
COREPACK_INTEGRITY_KEYS (or "0") makes Corepack skip its check, so tufkeys
never passes one, and replaces an inherited one with a warning.
--skip-verification is the one way to run COMMAND with the check off.

The registry is --registry (repeatable: the lists are merged), else
COREPACK_NPM_REGISTRY, else npm's (npm_config_registry, then .npmrc). A bare
COMMAND is looked up on PATH, skipping directories of tufkeys shims.`,
		Example: `  tufkeys exec -- corepack pnpm@10.1.0 install
  tufkeys exec --registry registry.example.test -- pnpm install
  tufkeys exec --skip-verification -- corepack yarn   # Corepack's check off, said aloud`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("tufkeys exec takes the command to run after --, such as tufkeys exec -- corepack pnpm install")
			}
			if cmd.ArgsLenAtDash() != 0 {
				return usagef("tufkeys exec runs the command after --; put %q after it", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Argv = args
			return runExec(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Registries, "registry", nil, "registry URL or host whose key list Corepack gets; repeated, the lists are merged")
	cmd.Flags().BoolVar(&opts.SkipVerification, "skip-verification", false, "run COMMAND with Corepack's integrity check off (COREPACK_INTEGRITY_KEYS=0); never read from the environment")
	addClientFlags(cmd, &opts.Client)
	cmd.RegisterFlagCompletionFunc("registry", completeRegistries(&opts.Client, std))
	return cmd
}

// keyHosts are the hosts whose lists exec hands over: the flags, else the
// registry Corepack will fetch from, else npm's.
func (opts execOptions) keyHosts() ([]string, error) {
	regs := opts.Registries
	if len(regs) == 0 {
		if r := lookupEnv(opts.Environ, corepack.EnvRegistry); r != "" {
			regs = []string{r}
		} else {
			r, err := registry.Resolve("", cwd())
			if err != nil {
				return nil, err
			}
			regs = []string{r}
		}
	}
	var hosts []string
	for _, r := range regs {
		_, host, err := resolveRegistry(r)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
	}
	return hosts, nil
}

func runExec(ctx context.Context, opts execOptions) error {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	opts.Environ = environ
	depth, err := execDepth(environ)
	if err != nil {
		return err
	}
	path, err := corepack.LookPath(opts.Argv[0], lookupEnv(environ, "PATH"))
	if err != nil {
		return err
	}
	if corepack.IsShim(path) {
		return fmt.Errorf("not running %s: %s is a copy of a tufkeys shim outside a shim directory, so tufkeys exec would run itself; remove it, or write the shims with tufkeys shims DIR: %w", opts.Argv[0], path, errExecLoop)
	}
	// the child gets none of tufkeys' own secrets, and the depth marker
	opts.Environ = childEnviron(environ, depth+1)
	if opts.SkipVerification {
		warn(opts.streams, "running "+opts.Argv[0]+" with Corepack's integrity check off (--skip-verification)")
		env, _, _ := corepack.Environ(opts.Environ, "0")
		return runChild(opts.streams, path, opts.Argv, env, nil)
	}
	hosts, err := opts.keyHosts()
	if err != nil {
		return err
	}
	cl, err := opts.Client.openFor(ctx, opts.streams, hosts)
	if err != nil {
		return err
	}
	// Where the version Corepack will fetch is known, verify it first: a
	// key the cached list lacks is then followed (under the refresh
	// interval) before the hand-over, and a version tufkeys refuses never
	// reaches Corepack. Where it is not, Corepack's own unknown-keyid
	// failure is followed after the fact.
	followAfter := true
	t, known, err := corepack.FindTarget(opts.Argv, cwd())
	if err != nil {
		return fmt.Errorf("not running %s: %w; Corepack would stop at it too: fix the file", opts.Argv[0], err)
	}
	if known {
		if err := opts.precheck(ctx, cl, hosts, t); err != nil {
			return err
		}
		followAfter = false
	}
	env, handed, err := opts.handOver(ctx, cl, hosts)
	if err != nil {
		return err
	}
	if !followAfter {
		return runChild(opts.streams, path, opts.Argv, env, nil)
	}
	var tail tailBuffer
	err = runChild(opts.streams, path, opts.Argv, env, &tail)
	var ee exitError
	if !errors.As(err, &ee) {
		return err
	}
	// run again only for a key Corepack named that the handed list lacked
	// and a refresh brought
	var missing []string
	for _, id := range corepack.FailedKeyIDs(tail.Bytes()) {
		if !slices.ContainsFunc(handed.Keys, func(k bundle.Key) bool { return k.KeyID == id }) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return err
	}
	followed, ferr := cl.FollowRotation(ctx, hosts, missing)
	if ferr != nil || !followed {
		return err
	}
	warn(opts.streams, fmt.Sprintf("Corepack met %s, which the refreshed key list now holds (the registry rotated its key); running %s again", strings.Join(missing, ", "), opts.Argv[0]))
	if env, _, err = opts.handOver(ctx, cl, hosts); err != nil {
		return err
	}
	return runChild(opts.streams, path, opts.Argv, env, nil)
}

// errExecLoop marks an exec that would run itself.
var errExecLoop = errors.New("tufkeys exec would run itself")

// execDepthVar marks a child of tufkeys exec with how many execs it runs
// under: a package manager's script may run another through the shims,
// but a chain deeper than maxExecDepth is exec calling itself.
const (
	execDepthVar = "TUFKEYS_EXEC_DEPTH"
	maxExecDepth = 8
)

func execDepth(environ []string) (int, error) {
	v := lookupEnv(environ, execDepthVar)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q is not a number: tufkeys exec sets it for its child; unset it: %w", execDepthVar, v, errExecLoop)
	}
	if n >= maxExecDepth {
		return 0, fmt.Errorf("not running: tufkeys exec is already %d levels deep (%s): a copy of a shim, or a command on PATH that runs tufkeys exec again, makes it run itself; check PATH: %w", n, execDepthVar, errExecLoop)
	}
	return n, nil
}

// childEnviron is environ without tufkeys' own secrets (passphrases, PINs,
// key references), which the command it runs has no business with, and
// with the exec depth marker set.
func childEnviron(environ []string, depth int) []string {
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if name == execDepthVar || secretVar(name) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, execDepthVar+"="+strconv.Itoa(depth))
}

// secretVar reports whether a variable holds a secret of tufkeys'.
func secretVar(name string) bool {
	for _, v := range envVars {
		if v.Name == name {
			return v.Sensitive
		}
	}
	return strings.HasPrefix(name, "TUFKEYS_") && (strings.Contains(name, "PASSPHRASE") || strings.Contains(name, "PIN") || strings.HasSuffix(name, "_KEY"))
}

// precheck verifies the package manager version Corepack is about to
// fetch, refreshing on a key the list lacks. The command runs only when
// the version verified: Corepack does not check a key's expiry against the
// publish time, so a version tufkeys could not check (no registry, the
// registry unreachable or answering with an error) does not run either.
func (opts execOptions) precheck(ctx context.Context, cl *client.Client, hosts []string, t corepack.Target) error {
	reg := lookupEnv(opts.Environ, corepack.EnvRegistry)
	if reg == "" {
		r, err := registry.Resolve("", cwd())
		if errors.Is(err, registry.ErrNoRegistry) {
			return fmt.Errorf("not running %s: %s (%s) cannot be checked before the hand-over, as no registry to fetch it from is configured; set COREPACK_NPM_REGISTRY or npm_config_registry", opts.Argv[0], t.ID(), t.From)
		}
		if err != nil {
			return err
		}
		reg = r
	}
	refreshed, err := corepack.Check(ctx, cl, reg, hosts, t)
	if errors.Is(err, corepack.ErrRefused) {
		return fmt.Errorf("not running %s: %w", opts.Argv[0], err)
	}
	if err != nil {
		// Corepack checks no key's expiry against the publish time: what
		// tufkeys could not check does not run
		return fmt.Errorf("not running %s: cannot check %s (%s) before the hand-over: %w; run it again once the registry answers", opts.Argv[0], t.ID(), t.From, err)
	}
	if refreshed {
		warn(opts.streams, fmt.Sprintf("%s is signed by a key the cached list lacked; the list was refreshed first (the registry rotated its key)", t.ID()))
	}
	return nil
}

// handOver is the child's environment: COREPACK_INTEGRITY_KEYS set to the
// verified lists, which hold at least one key, and nothing inherited of it;
// and the list it holds.
func (opts execOptions) handOver(ctx context.Context, cl *client.Client, hosts []string) ([]string, *bundle.KeyList, error) {
	list, notes, err := corepack.VerifiedList(ctx, cl, hosts)
	if err != nil {
		return nil, nil, fmt.Errorf("not running %s: %w", opts.Argv[0], err)
	}
	for _, n := range notes {
		warn(opts.streams, n)
	}
	value, err := corepack.Value(list)
	if err != nil {
		return nil, nil, fmt.Errorf("not running %s: %w", opts.Argv[0], err)
	}
	env, inherited, set := corepack.Environ(opts.Environ, value)
	if set && corepack.SkipsCheck(inherited) {
		warn(opts.streams, fmt.Sprintf("%s=%q in the environment turns Corepack's check off; replaced with the verified keys (tufkeys exec --skip-verification says that on purpose)", corepack.EnvKeys, inherited))
	}
	return env, list, nil
}

// tailBuffer keeps the last bytes written to it: enough of a child's
// standard error to read Corepack's failure, bounded.
type tailBuffer struct{ b []byte }

const maxTail = 64 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxTail {
		t.b = append(t.b[:0], t.b[len(t.b)-maxTail:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return t.b }

// lookupEnv reads a variable from an environment list.
func lookupEnv(environ []string, name string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

// forwarded are the signals passed on to the child.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// runChild runs the command, passing signals on and its exit status back
// (and a copy of its standard error to stderrTail, when given):
// a child killed by a signal gives 128 plus the signal's number, as a
// shell does.
func runChild(std streams, path string, argv, env []string, stderrTail io.Writer) error {
	child := exec.Command(path, argv[1:]...)
	child.Args[0] = argv[0]
	child.Env = env
	child.Stdin, child.Stdout, child.Stderr = std.In, std.Out, std.Err
	if stderrTail != nil {
		child.Stderr = io.MultiWriter(std.Err, stderrTail)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := child.Start(); err != nil {
		return fmt.Errorf("cannot start %s: %w", argv[0], err)
	}
	terminal := fromTerminal()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				// a terminal sends its interrupt to the whole foreground
				// group, the child included: passing it on would send it twice
				if terminal && (s == syscall.SIGINT || s == syscall.SIGQUIT) {
					continue
				}
				child.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := child.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitError{code: 128 + int(ws.Signal())}
		}
		return exitError{code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", argv[0], err)
	}
	return nil
}

// fromTerminal reports whether this process is in the foreground group of
// the terminal on standard input, which then signals the child directly.
func fromTerminal() bool {
	pgrp, err := unix.IoctlGetInt(int(os.Stdin.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == syscall.Getpgrp()
}

type shimsOptions struct {
	streams
	Client     clientFlags
	Registries []string
	Dir        string
	Corepack   string
	// Tufkeys is the binary the shims run; empty: this one.
	Tufkeys string
}

func newShimsCommand(std streams) *cobra.Command {
	opts := shimsOptions{streams: std}
	cmd := &cobra.Command{
		Use:   "shims DIR [client flags] [--corepack PATH]",
		Short: "Write pnpm, yarn and corepack entry points that verify through tufkeys exec",
		Long: `Write pnpm, pnpx, yarn, yarnpkg and corepack into DIR: each runs the real
Corepack through tufkeys exec, so it verifies with the key lists tufkeys
verified. Put DIR first on PATH (a CI image, a Dockerfile, a shell profile)
and no job needs to set a variable. The client flags given here (--repo,
--root, --cache, --max-age, --registry) are written into the shims.

The real Corepack is --corepack, else the first corepack on PATH outside
directories of shims when a shim runs, so a DIR that appears on PATH twice
never runs itself. Removing DIR restores the machine: nothing is written
elsewhere. A file in DIR that tufkeys did not write is never replaced.`,
		Example: `  tufkeys shims /usr/local/tufkeys/bin && export PATH=/usr/local/tufkeys/bin:$PATH
  tufkeys shims ~/.tufkeys/shims --corepack /usr/lib/node_modules/corepack/dist/corepack.js`,
		Args: exactArgs(1, "one DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			return runShims(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Corepack, "corepack", "", "the real Corepack (default: the first corepack on PATH outside shim directories, when a shim runs)")
	cmd.Flags().StringArrayVar(&opts.Registries, "registry", nil, "registry URL or host whose key list the shims hand to Corepack; repeatable")
	addClientFlags(cmd, &opts.Client)
	return cmd
}

func runShims(opts shimsOptions) error {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	self := opts.Tufkeys
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return fmt.Errorf("cannot find this tufkeys binary to point the shims at: %w", err)
		}
	}
	if self, err = filepath.Abs(self); err != nil {
		return err
	}
	args := opts.Client.given()
	for i := 0; i+1 < len(args); i += 2 {
		if args[i] == "--root" || args[i] == "--cache" {
			// the shims run from any directory
			if args[i+1], err = filepath.Abs(args[i+1]); err != nil {
				return err
			}
		}
	}
	if opts.Client.set != nil && opts.Client.set("max-age") {
		args = append(args, "--max-age", opts.Client.MaxAge)
	}
	for _, r := range opts.Registries {
		args = append(args, "--registry", r)
	}
	core := opts.Corepack
	if core != "" {
		if core, err = filepath.Abs(core); err != nil {
			return err
		}
		if _, err := corepack.LookPath(core, ""); err != nil {
			return err
		}
	} else if _, err := corepack.LookPath("corepack", os.Getenv("PATH")); err != nil {
		warn(opts.streams, "no corepack on PATH yet: the shims will look for it when they run")
	}
	written, err := corepack.WriteShims(corepack.ShimOptions{Dir: dir, Tufkeys: self, ExecArgs: args, Corepack: core})
	if errors.Is(err, corepack.ErrNotShim) {
		return fmt.Errorf("%w: remove it, or write the shims into another directory", err)
	}
	if err != nil {
		return err
	}
	for _, p := range written {
		fmt.Fprintf(opts.Out, "wrote %s\n", p)
	}
	fmt.Fprintf(opts.Out, "put %s first on PATH; remove it to undo\n", dir)
	return nil
}
