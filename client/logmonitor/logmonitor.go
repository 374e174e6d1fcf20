// Package logmonitor watches a tufkeys repository's transparency log from
// the outside: it verifies the log from the state its last run saved, and
// cross-checks the log against what the repository serves. A finding is
// something that should not be: a root or key list the repository serves
// that the log does not hold (someone may be shown metadata the witnesses
// never saw), an entry the repository never published (someone was
// targeted), a logged key the registry itself does not serve, a fork or a
// rollback.
package logmonitor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/client/internal/session"
	"github.com/tufkeys/tufkeys/translog"
)

// Kind says what a finding is about.
type Kind string

// Kinds of findings.
const (
	// Conflict: the log forked, or went back, against the saved state.
	Conflict Kind = "log-conflict"
	// RootNotLogged: the repository serves a root version the log lacks.
	RootNotLogged Kind = "root-not-logged"
	// RootNotServed: the log holds a root the repository does not serve.
	RootNotServed Kind = "logged-root-not-served"
	// ListNotLogged: the repository serves a key list the log lacks.
	ListNotLogged Kind = "list-not-logged"
	// EntryNotPublished: a key-list entry matches no version the
	// repository published.
	EntryNotPublished Kind = "entry-not-published"
	// NewestNotServed: a registry's newest entry is not the list the
	// repository serves.
	NewestNotServed Kind = "newest-entry-not-served"
	// KeyNotServed: an entry gives a registry a key the registry does not
	// serve at its own endpoint.
	KeyNotServed Kind = "key-not-served-by-registry"
)

// Finding is one thing that should not be.
type Finding struct {
	Kind Kind
	// Registry is the host the finding is about; empty for roots and
	// conflicts.
	Registry string
	// Index is the log entry's index, -1 when no entry is concerned.
	Index   int64
	Message string
}

func (f Finding) String() string { return f.Message }

// Options of a run.
type Options struct {
	// Client reads the repository; its trusted root names the log.
	Client *client.Client
	// State is what the last run saved; zero starts from the log's
	// beginning.
	State translog.MonitorState
	// Registries narrows the registry checks and the entries reported to
	// these hosts; empty: every registry the log or the repository names.
	Registries []string
	// Live holds, by host, the key list a registry serves at its own
	// endpoint, for the KeyNotServed check; a host without one is not
	// checked against its registry.
	Live map[string]*bundle.KeyList
	Now  time.Time
}

// Report is what a run found.
type Report struct {
	Policy   translog.Policy
	Followed translog.Followed
	// Next is the state to save; on a conflict it is the given state.
	Next     translog.MonitorState
	Findings []Finding
}

// ErrNoLog marks a repository whose root names no transparency log.
var ErrNoLog = errors.New("the repository's root names no transparency log: there is nothing to monitor")

// Run verifies the log from the saved state and cross-checks it with the
// repository. Errors are failures to check (the network, a damaged log);
// what the checks find is in the report.
func Run(ctx context.Context, opts Options) (Report, error) {
	var rep Report
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	policy, fetch, ok, err := opts.Client.TUF().Log(ctx)
	if errors.Is(err, client.ErrNotLogged) {
		// the repository serves a root the log lacks: the client refuses
		// it, and that is the finding
		rep.Next = opts.State
		rep.Findings = append(rep.Findings, Finding{Kind: RootNotLogged, Index: -1, Message: err.Error()})
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	if !ok {
		return rep, ErrNoLog
	}
	rep.Policy = policy
	followed, next, ferr := translog.Follow(ctx, fetch, policy, opts.State, opts.Now)
	rep.Followed, rep.Next = followed, next
	switch {
	case errors.Is(ferr, translog.ErrFork) || errors.Is(ferr, translog.ErrRollback):
		rep.Findings = append(rep.Findings, Finding{Kind: Conflict, Index: -1, Message: fmt.Sprintf("the log conflicts with the saved checkpoint of size %d: %v", opts.State.Size, ferr)})
		return rep, nil
	case ferr != nil:
		return rep, ferr
	}
	roots, err := checkRoots(ctx, fetch, followed, next.Size > 0)
	if err != nil {
		return rep, err
	}
	rep.Findings = append(rep.Findings, roots...)
	hosts := opts.Registries
	if len(hosts) == 0 {
		hosts = registriesOf(followed, next)
	}
	for _, host := range hosts {
		found, err := checkRegistry(ctx, opts.Client, host, followed.New, next, opts.Live[host])
		if err != nil {
			return rep, err
		}
		rep.Findings = append(rep.Findings, found...)
	}
	return rep, nil
}

// registriesOf is every registry the log has named so far.
func registriesOf(f translog.Followed, st translog.MonitorState) []string {
	seen := map[string]bool{}
	for k := range st.Latest {
		if k != "root" {
			seen[k] = true
		}
	}
	for _, ie := range f.New {
		if ie.Entry.Registry != "" {
			seen[ie.Entry.Registry] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// maxRoots bounds the root versions a run reads from the repository.
const maxRoots = 1024

// checkRoots requires every root version the repository serves, after one
// that names a log, to be in the log, and every root the log holds to be
// the one the repository serves under that version.
func checkRoots(ctx context.Context, fetch translog.Fetch, f translog.Followed, hasLog bool) ([]Finding, error) {
	var out []Finding
	served := map[int64]string{}
	prevNamesLog := false
	for v := int64(1); v <= maxRoots; v++ {
		name := session.RootName(v)
		data, err := fetch(ctx, name, session.RootMax)
		if errors.Is(err, translog.ErrMissing) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		served[v] = session.ObjectName(data)
		if prevNamesLog && hasLog {
			if _, _, err := translog.Lookup(ctx, fetch, f.Checkpoint, translog.RootKey(v, served[v])); err != nil {
				if !errors.Is(err, translog.ErrNotInLog) {
					return nil, err
				}
				out = append(out, Finding{Kind: RootNotLogged, Index: -1, Message: fmt.Sprintf("the repository serves root v%d (sha256 %s), which is not in the log although root v%d names one: clients refuse it, and someone with the root keys may be showing it to some of them", v, served[v][:16], v-1)})
			}
		}
		prevNamesLog = false
		if md, err := metadata.Root().FromBytes(data); err == nil {
			_, prevNamesLog, _ = translog.FromRootCustom(md.Signed.UnrecognizedFields)
		}
	}
	for _, ie := range f.New {
		e := ie.Entry
		if e.Type != translog.TypeRoot {
			continue
		}
		if sum, ok := served[e.Version]; !ok || sum != e.SHA256 {
			what := "serves no root v" + strconv.FormatInt(e.Version, 10)
			if ok {
				what = "serves another root v" + strconv.FormatInt(e.Version, 10) + " (sha256 " + sum[:16] + ")"
			}
			out = append(out, Finding{Kind: RootNotServed, Index: ie.Index, Message: fmt.Sprintf("entry %d logs root v%d (sha256 %s), but the repository %s: a root shown to someone else, perhaps to target a client", ie.Index, e.Version, e.SHA256[:16], what)})
		}
	}
	return out, nil
}

// checkRegistry compares what the log says host was given with what the
// repository publishes and, when live is given, what the registry serves.
func checkRegistry(ctx context.Context, cl *client.Client, host string, entries []translog.Indexed, st translog.MonitorState, live *bundle.KeyList) ([]Finding, error) {
	published := map[string]bool{}
	history, err := cl.History(ctx, host)
	if err != nil && !errors.Is(err, client.ErrNoKeyList) {
		return nil, err
	}
	for _, h := range history {
		if h.SHA256 != "" && h.Problem == "" {
			published[h.SHA256] = true
		}
	}
	served := map[string]bool{}
	if live != nil {
		for _, k := range live.Keys {
			served[k.KeyID] = true
		}
	}
	var out []Finding
	for _, ie := range entries {
		e := ie.Entry
		if e.Registry != host {
			continue
		}
		if !published[e.SHA256] {
			out = append(out, Finding{Kind: EntryNotPublished, Registry: host, Index: ie.Index, Message: fmt.Sprintf("entry %d for %s (sha256 %s, %s v%d) matches no version of the key list the repository published", ie.Index, host, e.SHA256[:16], e.Role, e.Version)})
		}
		if live == nil {
			continue
		}
		for _, id := range e.KeyIDs {
			if !served[id] {
				out = append(out, Finding{Kind: KeyNotServed, Registry: host, Index: ie.Index, Message: fmt.Sprintf("entry %d gives %s the key %s (in %s v%d, logged %s), which the registry does not serve at its own endpoint", ie.Index, host, id, e.Role, e.Version, e.Logged)})
			}
		}
	}
	data, err := cl.TUF().Target(ctx, bundle.TargetName(host))
	switch {
	case errors.Is(err, client.ErrNotLogged):
		out = append(out, Finding{Kind: ListNotLogged, Registry: host, Index: -1, Message: fmt.Sprintf("the repository publishes a key list for %s that is not in the log: %v", host, err)})
	case errors.Is(err, client.ErrNoTarget) || errors.Is(err, client.ErrNoKeyList):
		if _, logged := st.Latest[host]; logged {
			out = append(out, Finding{Kind: NewestNotServed, Registry: host, Index: -1, Message: fmt.Sprintf("the log has entries for %s, which the repository does not publish", host)})
		}
	case err != nil:
		return nil, err
	default:
		if latest, sum := st.Latest[host], session.ObjectName(data); latest != "" && latest != sum {
			out = append(out, Finding{Kind: NewestNotServed, Registry: host, Index: -1, Message: fmt.Sprintf("the newest log entry for %s (sha256 %s) is not the list the repository publishes (sha256 %s)", host, latest[:16], sum[:16])})
		}
	}
	return out, nil
}
