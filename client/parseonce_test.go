package client_test

import (
	"strings"
	"testing"

	"github.com/tufkeys/tufkeys/client"
)

// A refresh parses each metadata file once. When the timestamp is new,
// the trusted timestamp and snapshot are read for the rollback floors the
// specification sets (5.4.3, 5.5.5), and a targets or bin role the new
// snapshot no longer names by its hash is not read at all; when the
// timestamp is unchanged, the cached files are each checked once.
func TestRefreshParsesEachFileOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bins int
		// the roles parsed after another registry changed, by role kind
		changed map[string]int
	}{
		{"flat", 0, map[string]int{"timestamp": 2, "snapshot": 2, "targets": 1}},
		{"bins", 16, map[string]int{"timestamp": 2, "snapshot": 2, "targets": 1, "bins": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := manyWorld(t, 30, tc.bins)
			const other = "added.example.test"
			cl, _ := w.client(t.TempDir(), func(o *client.Options) { o.MaxAge = client.Age(0) })
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			parses := client.TrackParses(cl)
			if err := w.c.StagePublish(other, fixture(t, "npm/keys.json"), 2); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			checkParses(t, "after another registry changed", parses(), tc.changed)

			parses = client.TrackParses(cl)
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Fatal(err)
			}
			unchanged := map[string]int{"timestamp": 1, "snapshot": 1, "targets": 1}
			if tc.bins > 0 {
				unchanged["bins"] = 1
			}
			checkParses(t, "with the timestamp unchanged", parses(), unchanged)
		})
	}
}

// checkParses checks that no file was parsed twice and that each kind of
// role was parsed as often as want says.
func checkParses(t *testing.T, when string, got map[string]int, want map[string]int) {
	t.Helper()
	kinds := map[string]int{}
	for key, n := range got {
		if n != 1 {
			t.Errorf("%s: %s parsed %d times", when, key, n)
		}
		role, _, _ := strings.Cut(key, " ")
		kind, _, _ := strings.Cut(role, "-")
		kinds[kind]++
	}
	for kind, n := range want {
		if kinds[kind] != n {
			t.Errorf("%s: %d files of %s parsed, want %d (all: %v)", when, kinds[kind], kind, n, got)
		}
	}
	for kind := range kinds {
		if _, ok := want[kind]; !ok {
			t.Errorf("%s: %s parsed, which it need not be (all: %v)", when, kind, got)
		}
	}
}
