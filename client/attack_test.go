package client_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/harness/ceremony"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// serveBytes answers requests whose path ends with suffix with data.
func serveBytes(suffix string, data []byte) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, suffix) {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
		return true
	}
}

func readRepo(t testing.TB, w *world, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.c.RepoDir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func newestTarget(t testing.TB, w *world) string {
	t.Helper()
	targets := currentTargets(t, w)
	files, _ := filepath.Glob(filepath.Join(w.c.RepoDir, "targets", host, "*.keys.json"))
	for _, f := range files {
		if strings.Contains(string(targets), strings.TrimSuffix(filepath.Base(f), ".keys.json")) {
			return filepath.Base(f)
		}
	}
	t.Fatal("no current target")
	return ""
}

func currentTargets(t testing.TB, w *world) []byte {
	t.Helper()
	st, err := w.c.WS.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st.Published.TargetsBytes
}

// Every attack fails closed with a clear error, and leaves the cache as
// it was: usable offline during the attack and refreshable after it.
func TestAttacksFailClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup runs before the client warms its cache; it returns the
		// man in the middle's handler
		setup     func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool
		cold      bool                         // the client starts with an empty cache
		afterWarm func(t *testing.T, w *world) // runs after the cache is warm
		advance   time.Duration                // extra time before the attacked refresh
		want      error
		words     []string
		// fallback, when set, are the words of the warning with which the
		// cache answers instead of an error
		fallback []string
	}{
		{
			name: "tampered key list",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				old := fixture(t, "corepack-0.30.json")
				w.publish("npm/keys.json")
				return serveBytes(newestTarget(t, w), old)
			},
			cold:  true,
			want:  client.ErrInconsistent,
			words: []string{".keys.json does not match the length or hash", "tampering in transit"},
		},
		{
			name: "tampered metadata",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				ts := readRepo(t, w, "timestamp.json")
				forged := bytes.Replace(ts, []byte(`"version": 1`), []byte(`"version": 7`), 1)
				return serveBytes("/timestamp.json", forged)
			},
			want:  client.ErrUntrusted,
			words: []string{"lacks the signatures the trusted root requires"},
		},
		{
			name: "rollback to an older timestamp",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				old := readRepo(t, w, "timestamp.json")
				w.publish("npm/keys.json")
				return serveBytes("/timestamp.json", old)
			},
			want:  client.ErrUntrusted,
			words: []string{"older metadata in timestamp.json than this client has already verified", "rollback"},
		},
		{
			name: "rollback to an older snapshot",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				old := readRepo(t, w, "1.snapshot.json")
				w.publish("npm/keys.json")
				return serveBytes("/3.snapshot.json", old)
			},
			// the repository moves on to snapshot 3 after the client saw 2
			afterWarm: func(t *testing.T, w *world) {
				if _, err := w.c.WS.Renew("targets"); err != nil {
					t.Fatal(err)
				}
				if err := w.c.Sign(2); err != nil {
					t.Fatal(err)
				}
				if _, err := w.c.Publish(); err != nil {
					t.Fatal(err)
				}
			},
			// the old snapshot does not match the hash the new timestamp
			// lists: the verified cache answers, with a warning
			fallback: []string{"the repository is inconsistent", "3.snapshot.json"},
		},
		{
			name: "mix and match of targets versions",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				old := currentTargets(t, w)
				w.publish("npm/keys.json")
				return serveBytes("/2.targets.json", old)
			},
			cold:  true,
			want:  client.ErrInconsistent,
			words: []string{"2.targets.json", "inconsistent"},
		},
		{
			name: "freeze: an expired timestamp",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				return nil
			},
			// the repository stopped re-signing its timestamp two days ago
			advance: 48 * time.Hour,
			want:    client.ErrUntrusted,
			words:   []string{"serves timestamp metadata that expired at", "1 day ", " ago", "freeze attack"},
		},
		{
			name: "endless response",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				chunk := bytes.Repeat([]byte(" "), 64<<10)
				return func(rw http.ResponseWriter, r *http.Request) bool {
					if !strings.HasSuffix(r.URL.Path, "/timestamp.json") {
						return false
					}
					for i := 0; i < 1024; i++ {
						if _, err := rw.Write(chunk); err != nil {
							break
						}
					}
					return true
				}
			},
			want:  client.ErrUntrusted,
			words: []string{"timestamp.json", "longer than any such file may be"},
		},
		{
			name: "server stalls",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				return func(rw http.ResponseWriter, r *http.Request) bool {
					if !strings.HasSuffix(r.URL.Path, "/timestamp.json") {
						return false
					}
					select {
					case <-r.Context().Done():
					case <-time.After(10 * time.Second):
					}
					return true
				}
			},
			cold:  true,
			want:  client.ErrUnavailable,
			words: []string{"did not answer within 2s"},
		},
		{
			name: "metadata signed by keys outside the trusted root",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				other, err := ceremony.New(t.TempDir(), ceremony.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := other.StagePublish(host, fixture(t, "npm/keys.json"), 2); err != nil {
					t.Fatal(err)
				}
				imposter := newRepoServer(t, other.RepoDir)
				return func(rw http.ResponseWriter, r *http.Request) bool {
					imposter.Config.Handler.ServeHTTP(rw, r)
					return true
				}
			},
			cold:  true,
			want:  client.ErrUntrusted,
			words: []string{"lacks the signatures the trusted root requires"},
		},
		{
			name: "new root below the old root's threshold",
			setup: func(t *testing.T, w *world) func(http.ResponseWriter, *http.Request) bool {
				extra, _ := ceremony.NewKey("maintainer4")
				if _, err := w.c.WS.Rotate(workspace.RotateOptions{AddRootKeys: []workspace.PublicKey{extra.Public}}); err != nil {
					t.Fatal(err)
				}
				if err := w.c.Sign(2); err != nil {
					t.Fatal(err)
				}
				if _, err := w.c.Publish(); err != nil {
					t.Fatal(err)
				}
				var root map[string]any
				json.Unmarshal(readRepo(t, w, "2.root.json"), &root)
				root["signatures"] = root["signatures"].([]any)[:1]
				weak, _ := json.Marshal(root)
				return serveBytes("/2.root.json", weak)
			},
			cold:  true,
			want:  client.ErrUntrusted,
			words: []string{"lacks the signatures the trusted root requires"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, "corepack-0.30.json")
			dir := t.TempDir()
			attack := tt.setup(t, w)
			cl, logs := w.client(dir)
			var warm []string
			if !tt.cold {
				keys, err := cl.Keys(ctx, host)
				if err != nil {
					t.Fatalf("warming the cache: %v", err)
				}
				warm = keys.KeyIDs()
				w.advance(2 * time.Hour)
			}
			if tt.afterWarm != nil {
				tt.afterWarm(t, w)
			}
			w.advance(tt.advance)
			w.srv.setIntercept(attack)
			keys, err := cl.Keys(ctx, host)
			if tt.fallback != nil {
				if err != nil {
					t.Fatalf("the verified cache did not answer: %v", err)
				}
				if !reflect.DeepEqual(keys.KeyIDs(), warm) {
					t.Errorf("answered %v during the attack, want the cached %v", keys.KeyIDs(), warm)
				}
				for _, word := range tt.fallback {
					if !strings.Contains(logs.String(), word) {
						t.Errorf("no warning mentioning %q:\n%s", word, logs)
					}
				}
			} else {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				contains(t, err, tt.words...)
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
			}
			if !tt.cold && tt.name != "freeze: an expired timestamp" {
				offline, _ := w.client(dir, func(o *client.Options) { o.Offline = true })
				if _, err := offline.Keys(ctx, host); err != nil {
					t.Errorf("the cache is unusable after the attack: %v", err)
				}
			}
			w.srv.setIntercept(nil)
			if tt.name == "freeze: an expired timestamp" {
				return
			}
			if _, err := cl.Keys(ctx, host); err != nil {
				t.Errorf("after the attack stopped: %v", err)
			}
		})
	}
}

// An expiry is told by the role that expired, when and how long ago, also
// when the update was loading another file and when some expiry was
// accepted: a frozen timestamp is blamed on the timestamp.
func TestExpiredMetadataIsNamed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		advance  time.Duration
		accepted time.Duration
		words    []string
	}{
		{"timestamp two days old", 49 * time.Hour, 0, []string{"serves timestamp metadata that expired at ", ", 1 day ", " ago: "}},
		{"beyond what is accepted", 73 * time.Hour, 24 * time.Hour, []string{"serves timestamp metadata that expired at ", ", 2 days ", " ago, more than the 1 day accepted: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, "npm/keys.json")
			w.advance(tt.advance)
			cl, _ := w.client(t.TempDir(), func(o *client.Options) { o.AcceptExpired = tt.accepted })
			_, err := cl.Keys(ctx, host)
			var expired *client.ExpiredError
			if !errors.As(err, &expired) || !errors.Is(err, client.ErrUntrusted) || expired.Role != "timestamp" {
				t.Fatalf("want an expired timestamp, got %v", err)
			}
			for _, word := range tt.words {
				if !strings.Contains(err.Error(), word) {
					t.Errorf("%q lacks %q", err, word)
				}
			}
		})
	}
}
