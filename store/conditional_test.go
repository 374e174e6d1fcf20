package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tufkeys/tufkeys/internal/harness/s3test"
	"github.com/tufkeys/tufkeys/store"
)

// stores gives a fresh store of each kind: a directory and a prefix of the
// test run's S3 server.
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"dir": func(t *testing.T) store.Store {
			d, err := store.NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"s3": func(t *testing.T) store.Store {
			st, _ := s3test.Get(t).Store(t)
			return st
		},
	}
}

func TestConditionalWrites(t *testing.T) {
	ctx := context.Background()
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			st := open(t)
			if err := st.Put(ctx, "1.snapshot.json", []byte("first"), store.Absent); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := st.Put(ctx, "1.snapshot.json", []byte("second"), store.Absent); !errors.Is(err, store.ErrChanged) {
				t.Errorf("second create = %v, want ErrChanged", err)
			}
			expect(t, st, "1.snapshot.json", "first")

			if err := st.Put(ctx, "timestamp.json", []byte("v1"), store.Absent); err != nil {
				t.Fatal(err)
			}
			_, tag1, err := st.Get(ctx, "timestamp.json", 100)
			if err != nil {
				t.Fatal(err)
			}
			if state, tag, err := st.Compare(ctx, "timestamp.json", []byte("v1")); state != store.Same || tag != tag1 || err != nil {
				t.Errorf("compare = %v %q %v, want same with the tag Get gave (%q)", state, tag, err, tag1)
			}
			if err := st.Put(ctx, "timestamp.json", []byte("v2"), tag1); err != nil {
				t.Fatalf("replace with the current tag: %v", err)
			}
			if err := st.Put(ctx, "timestamp.json", []byte("v3"), tag1); !errors.Is(err, store.ErrChanged) {
				t.Errorf("replace with an old tag = %v, want ErrChanged", err)
			}
			if err := st.Put(ctx, "timestamp.json", []byte("v3"), store.Absent); !errors.Is(err, store.ErrChanged) {
				t.Errorf("create over an existing object = %v, want ErrChanged", err)
			}
			expect(t, st, "timestamp.json", "v2")
		})
	}
}

// Of many writers that race for one name or one tag, exactly one wins.
func TestConditionalWritesUnderRace(t *testing.T) {
	ctx := context.Background()
	const writers = 8
	for kind, open := range stores(t) {
		t.Run(kind, func(t *testing.T) {
			st := open(t)
			if err := st.Put(ctx, "timestamp.json", []byte("v0"), store.Always); err != nil {
				t.Fatal(err)
			}
			_, tag, err := st.Get(ctx, "timestamp.json", 100)
			if err != nil {
				t.Fatal(err)
			}
			for round, tt := range []struct {
				name    string
				ifMatch store.Tag
			}{{"7.snapshot.json", store.Absent}, {"timestamp.json", tag}} {
				var wg sync.WaitGroup
				errs := make([]error, writers)
				for i := range writers {
					wg.Go(func() {
						errs[i] = st.Put(ctx, tt.name, fmt.Appendf(nil, "writer %d", i), tt.ifMatch)
					})
				}
				wg.Wait()
				won := -1
				for i, err := range errs {
					switch {
					case err == nil && won >= 0:
						t.Errorf("round %d: writers %d and %d both won", round, won, i)
					case err == nil:
						won = i
					case !errors.Is(err, store.ErrChanged):
						t.Errorf("round %d: writer %d: %v", round, i, err)
					}
				}
				if won < 0 {
					t.Fatalf("round %d: no writer won", round)
				}
				expect(t, st, tt.name, fmt.Sprintf("writer %d", won))
			}
		})
	}
}

func expect(t *testing.T, st store.Store, name, want string) {
	t.Helper()
	got, _, err := st.Get(context.Background(), name, 100)
	if err != nil || string(got) != want {
		t.Errorf("%s holds %q (%v), want %q", name, got, err, want)
	}
}
