//go:build !tufkeys_client

package main

import (
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// statusReport is repo status.
type statusReport struct {
	Now       jsonTime          `json:"now"`
	Published []publishedReport `json:"published"`
	Staged    []stagedReport    `json:"staged"`
	KeyLists  []keyChangeReport `json:"key_list_changes"`
	Problems  []problemReport   `json:"problems"`
}

type problemReport struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type publishedReport struct {
	Role    string   `json:"role"`
	Version int64    `json:"version"`
	Expires jsonTime `json:"expires"`
	Due     bool     `json:"due"`
}

type stagedReport struct {
	Role       string            `json:"role"`
	Version    int64             `json:"version"`
	Expires    jsonTime          `json:"expires"`
	Ready      bool              `json:"ready"`
	Thresholds []thresholdReport `json:"thresholds"`
}

type thresholdReport struct {
	Of        *string  `json:"of"`
	Threshold int      `json:"threshold"`
	Signed    []string `json:"signed"`
	Missing   []string `json:"missing"`
}

type keyChangeReport struct {
	Registry   string   `json:"registry"`
	Role       string   `json:"role"`
	Added      []string `json:"added"`
	Removed    []string `json:"removed"`
	Redated    []string `json:"redated"`
	Unrecorded []string `json:"removed_without_remove_key"`
}

func newStatusReport(st workspace.Status) statusReport {
	r := statusReport{Now: jsonTime(st.Now), Published: []publishedReport{}, Staged: []stagedReport{}, KeyLists: []keyChangeReport{}, Problems: []problemReport{}}
	for _, p := range st.Problems() {
		r.Problems = append(r.Problems, problemReport{p.Code, p.Message})
	}
	for _, p := range st.Published {
		r.Published = append(r.Published, publishedReport{p.Role, p.Version, jsonTime(p.Expires), p.Due(st.Now)})
	}
	for _, c := range st.Staged {
		s := stagedReport{Role: c.Role, Version: c.Version, Expires: jsonTime(c.Expires), Ready: c.Ready(), Thresholds: []thresholdReport{}}
		for _, t := range c.Thresholds {
			s.Thresholds = append(s.Thresholds, thresholdReport{Of: orNull(t.Label), Threshold: t.Threshold, Signed: refNames(t.Signed), Missing: refNames(t.Missing)})
		}
		r.Staged = append(r.Staged, s)
	}
	for _, b := range st.Bundles {
		r.KeyLists = append(r.KeyLists, keyChangeReport{Registry: b.Host, Role: b.Role, Added: keyIDs(b.Diff.Added), Removed: keyIDs(b.Diff.Removed),
			Redated: redatedIDs(b.Diff), Unrecorded: nonNil(b.Unrecorded)})
	}
	return r
}

func refNames(refs []workspace.KeyName) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.String())
	}
	return out
}

// publishReport is repo publish and repo timestamp.
type publishReport struct {
	Destination string   `json:"destination"`
	DryRun      bool     `json:"dry_run"`
	Root        int64    `json:"root"`
	Targets     int64    `json:"targets"`
	Snapshot    int64    `json:"snapshot"`
	Timestamp   int64    `json:"timestamp"`
	Resigned    bool     `json:"resigned"`
	Uploaded    []string `json:"uploaded"`
	Unchanged   int      `json:"unchanged"`
	Log         *logJSON `json:"log"`
}

type logJSON struct {
	Origin    string   `json:"origin"`
	Size      int64    `json:"size"`
	Appended  int      `json:"appended"`
	Witnessed []string `json:"witnessed"`
}
