package main

import (
	"context"
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
	"github.com/tufkeys/tufkeys/client/logmonitor"
	"github.com/tufkeys/tufkeys/internal/registry"
	"github.com/tufkeys/tufkeys/internal/safefile"
	"github.com/tufkeys/tufkeys/translog"
)

// exitDiffers is watch's exit status when the lists differ, or the log
// shows something that should not be.
const exitDiffers = 3

// watchLogOptions are watch --log's: the repository (client flags), the
// registry that narrows the checks, where the state is kept, the format.
// Every build has them: the thin client monitors the log too.
type watchLogOptions struct {
	streams
	Client   clientFlags
	Registry string
	LogState string
	Format   string
	// jsonLines prints the JSON document on one line (watch --every)
	jsonLines bool
}

// currentClient is a watcher's client: its comparisons are with what the
// repository publishes now, so it asks on every call.
func currentClient(std streams, f clientFlags) (*client.Client, error) {
	co, err := f.options(std)
	if err != nil {
		return nil, err
	}
	co.MaxAge = client.Age(0)
	if co, err = withDefaultSource(co); err != nil {
		return nil, err
	}
	return f.newClient(co)
}

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
// 3 on what should not be (package logmonitor's findings): a root or key
// list the repository serves that the log lacks, a logged root or list the
// repository does not serve, a logged key the registry does not serve, a
// fork or a rollback.
func runWatchLog(ctx context.Context, opts watchLogOptions) error {
	cl, err := currentClient(opts.streams, opts.Client)
	if err != nil {
		return err
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
	mo := logmonitor.Options{Client: cl, State: st, Now: time.Now()}
	host := ""
	if opts.Registry != "" {
		reg, h, err := resolveRegistry(opts.Registry)
		if err != nil {
			return err
		}
		host = h
		rc, err := registry.New(reg, nil, 30*time.Second)
		if err != nil {
			return usageError{err}
		}
		live, err := rc.KeyList(ctx)
		if err != nil {
			return err
		}
		mo.Registries, mo.Live = []string{host}, map[string]*bundle.KeyList{host: live}
	}
	res, err := logmonitor.Run(ctx, mo)
	if err != nil {
		return err
	}
	rep := watchLogReport{Origin: res.Policy.Origin, Previous: st.Size, Entries: []watchLogEntry{}, Problems: []string{}, Witnessed: nonNil(res.Followed.Checkpoint.Witnessed)}
	rep.Size = res.Followed.Checkpoint.Size
	if !res.Followed.Checkpoint.Cosigned.IsZero() {
		rep.Cosigned = res.Followed.Checkpoint.Cosigned.UTC().Format(time.RFC3339)
	}
	conflict := false
	for _, f := range res.Findings {
		msg := f.Message
		if f.Kind == logmonitor.Conflict {
			conflict = true
			msg = fmt.Sprintf("the log at %s conflicts with the state in %s: %s", redactRepo(opts), statePath, f.Message)
		}
		rep.Problems = append(rep.Problems, msg)
	}
	for _, ie := range res.Followed.New {
		if host != "" && ie.Entry.Registry != host {
			continue
		}
		e := watchLogEntry{Index: ie.Index, Type: ie.Entry.Type, Role: ie.Entry.Role, Version: ie.Entry.Version, SHA256: ie.Entry.SHA256, KeyIDs: nonNil(ie.Entry.KeyIDs), Logged: ie.Entry.Logged}
		if ie.Entry.Registry != "" {
			e.Registry = orNull(ie.Entry.Registry)
		}
		rep.Entries = append(rep.Entries, e)
	}
	if !conflict {
		data, err := json.Marshal(res.Next)
		if err != nil {
			return err
		}
		if err := safefile.Write(statePath, data, 0o600); err != nil {
			return fmt.Errorf("keep the monitor's state: %w", err)
		}
	}
	if opts.Format == "json" {
		if err := writeReport(opts.Out, rep, opts.jsonLines); err != nil {
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

func printWatchLog(opts watchLogOptions, rep watchLogReport) {
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

func redactRepo(opts watchLogOptions) string {
	if len(opts.Client.Repos) > 0 {
		return opts.Client.Repos[0]
	}
	return "the repository"
}
