package store_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tufkeys/tufkeys/store"
)

// Sync puts a repository's files in place phase by phase and skips what
// the destination already holds.
func ExampleSync() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	dst, _ := store.NewDir(dir)
	files := []store.Object{
		{Name: "1.root.json", Data: []byte(`{"signed":{}}`), Phase: store.PhaseRoot},
		{Name: "timestamp.json", Data: []byte(`{"signed":{}}`), Phase: store.PhaseTimestamp},
	}
	rep, err := store.Sync(context.Background(), dst, files, store.SyncOptions{})
	fmt.Println(rep.Uploaded, rep.Skipped, err)
	rep, err = store.Sync(context.Background(), dst, files, store.SyncOptions{})
	fmt.Println(rep.Uploaded, rep.Skipped, err)
	// Output:
	// [1.root.json timestamp.json] 0 <nil>
	// [] 2 <nil>
}
