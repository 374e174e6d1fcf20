//go:build !tufkeys_client

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/registry"
	"github.com/tufkeys/tufkeys/internal/safefile"
	"github.com/tufkeys/tufkeys/translog"
)

// logStateFile is where watch --log keeps its state, in the cache
// directory unless --log-state says otherwise.
const logStateFile = "log-monitor.json"

type watchLogReport struct {
	Origin    string          `json:"origin"`
	Size      int64           `json:"size"`
	Previous  int64           `json:"previous_size"`
	Witnessed []string        `json:"witnessed"`
	Cosigned  string          `json:"cosigned"`
	Entries   []watchLogEntry `json:"entries"`
	Problems  []string        `json:"problems"`
}

type watchLogEntry struct {
	Index    int64    `json:"index"`
	Type     string   `json:"type"`
	Registry *string  `json:"registry"`
	Role     string   `json:"role"`
	Version  int64    `json:"version"`
	SHA256   string   `json:"sha256"`
	KeyIDs   []string `json:"keyids"`
	Logged   string   `json:"logged"`
}

// runWatchLog is watch's log mode: it verifies the repository's
// transparency log from the state saved by the last run, shows the new
// entries (of the watched registry, when --registry names one), and exits
// 3 on what should not be: a logged key the registry does not serve, a
// newest entry the repository does not publish, a published list that is
// not in the log, a fork or a rollback.
func runWatchLog(ctx context.Context, opts watchOptions) error {
	cl, err := opts.currentClient()
	if err != nil {
		return err
	}
	policy, fetch, ok, err := cl.TUF().Log(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the repository's root names no transparency log: there is nothing to monitor")
	}
	statePath := opts.LogState
	if statePath == "" {
		statePath = filepath.Join(cl.CacheDir(), logStateFile)
	}
	var st translog.MonitorState
	if data, err := safefile.Read(statePath, 1<<20); err == nil {
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("%s is not a log monitor's state (%v): move it away to start from the log's beginning", statePath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	rep := watchLogReport{Origin: policy.Origin, Previous: st.Size, Entries: []watchLogEntry{}, Problems: []string{}, Witnessed: []string{}}
	followed, next, ferr := translog.Follow(ctx, fetch, policy, st, time.Now())
	switch {
	case errors.Is(ferr, translog.ErrFork) || errors.Is(ferr, translog.ErrRollback):
		rep.Problems = append(rep.Problems, fmt.Sprintf("the log at %s conflicts with the checkpoint of size %d in %s: %v", redactRepo(opts), st.Size, statePath, ferr))
	case ferr != nil:
		return ferr
	}
	rep.Size, rep.Witnessed = followed.Checkpoint.Size, nonNil(followed.Checkpoint.Witnessed)
	if !followed.Checkpoint.Cosigned.IsZero() {
		rep.Cosigned = followed.Checkpoint.Cosigned.UTC().Format(time.RFC3339)
	}
	host := ""
	if opts.Registry != "" {
		reg, h, err := resolveRegistry(opts.Registry)
		if err != nil {
			return err
		}
		host = h
		if ferr == nil {
			problems, err := checkLoggedKeys(ctx, cl, reg, host, followed.New, next)
			if err != nil {
				return err
			}
			rep.Problems = append(rep.Problems, problems...)
		}
	}
	for _, ie := range followed.New {
		if host != "" && ie.Entry.Registry != host {
			continue
		}
		e := watchLogEntry{Index: ie.Index, Type: ie.Entry.Type, Role: ie.Entry.Role, Version: ie.Entry.Version, SHA256: ie.Entry.SHA256, KeyIDs: nonNil(ie.Entry.KeyIDs), Logged: ie.Entry.Logged}
		if ie.Entry.Registry != "" {
			e.Registry = orNull(ie.Entry.Registry)
		}
		rep.Entries = append(rep.Entries, e)
	}
	if ferr == nil {
		data, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if err := safefile.Write(statePath, data, 0o600); err != nil {
			return fmt.Errorf("keep the monitor's state: %w", err)
		}
	}
	if opts.Format == "json" {
		if err := writeJSON(opts.Out, rep); err != nil {
			return err
		}
	} else {
		printWatchLog(opts, rep)
	}
	if len(rep.Problems) > 0 {
		return exitError{code: exitDiffers}
	}
	return nil
}

// checkLoggedKeys compares what the log says the registry was given with
// what the registry serves and what the repository publishes.
func checkLoggedKeys(ctx context.Context, cl *client.Client, reg, host string, entries []translog.Indexed, st translog.MonitorState) ([]string, error) {
	rc, err := registry.New(reg, nil, 30*time.Second)
	if err != nil {
		return nil, usageError{err}
	}
	live, err := rc.KeyList(ctx)
	if err != nil {
		return nil, err
	}
	served := map[string]bool{}
	for _, k := range live.Keys {
		served[k.KeyID] = true
	}
	// every version of the registry's list the repository published,
	// verified, for the entries to match
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
	var problems []string
	for _, ie := range entries {
		if ie.Entry.Registry != host {
			continue
		}
		if !published[ie.Entry.SHA256] {
			problems = append(problems, fmt.Sprintf("entry %d for %s (sha256 %s, %s v%d) matches no version of the key list the repository published", ie.Index, host, ie.Entry.SHA256[:16], ie.Entry.Role, ie.Entry.Version))
		}
		for _, id := range ie.Entry.KeyIDs {
			if !served[id] {
				problems = append(problems, fmt.Sprintf("entry %d gives %s the key %s (in %s v%d, logged %s), which the registry does not serve at its own endpoint", ie.Index, host, id, ie.Entry.Role, ie.Entry.Version, ie.Entry.Logged))
			}
		}
	}
	data, err := cl.TUF().Target(ctx, bundle.TargetName(host))
	switch {
	case errors.Is(err, client.ErrNotLogged):
		problems = append(problems, fmt.Sprintf("the repository publishes a key list for %s that is not in the log: %v", host, err))
	case errors.Is(err, client.ErrNoTarget) || errors.Is(err, client.ErrNoKeyList):
		if _, logged := st.Latest[host]; logged {
			problems = append(problems, fmt.Sprintf("the log has entries for %s, which the repository does not publish", host))
		}
	case err != nil:
		return nil, err
	default:
		sum := sha256.Sum256(data)
		if latest, ok := st.Latest[host]; ok && latest != hex.EncodeToString(sum[:]) {
			problems = append(problems, fmt.Sprintf("the newest log entry for %s (sha256 %s) is not the list the repository publishes (sha256 %s)", host, latest[:16], hex.EncodeToString(sum[:8])))
		}
	}
	return problems, nil
}

func printWatchLog(opts watchOptions, rep watchLogReport) {
	cosigned := ""
	if rep.Cosigned != "" {
		cosigned = " at " + rep.Cosigned
	}
	fmt.Fprintf(opts.Out, "log %s: %d %s (%d new), cosigned by %s%s\n", rep.Origin, rep.Size, plural(int(rep.Size), "entry", "entries"), max(rep.Size-rep.Previous, 0), orNone(rep.Witnessed), cosigned)
	for _, e := range rep.Entries {
		what := "root v" + fmt.Sprint(e.Version)
		if e.Registry != nil {
			what = fmt.Sprintf("%s in %s v%d: %s", *e.Registry, e.Role, e.Version, strings.Join(e.KeyIDs, ", "))
		}
		fmt.Fprintf(opts.Out, "  %d %s (logged %s)\n", e.Index, what, e.Logged)
	}
	for _, p := range slices.Clip(rep.Problems) {
		fmt.Fprintf(opts.Out, "  UNEXPECTED: %s\n", p)
	}
}

func redactRepo(opts watchOptions) string {
	if len(opts.Client.Repos) > 0 {
		return opts.Client.Repos[0]
	}
	return "the repository"
}
