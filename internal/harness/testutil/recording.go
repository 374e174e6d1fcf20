package testutil

import (
	"context"
	"sync"

	"github.com/tufkeys/tufkeys/store"
)

// RecordingStore is a store that records the names written to it, in
// order, for tests of what a publish writes and in which order.
type RecordingStore struct {
	store.Store
	mu   sync.Mutex
	puts []string
}

func (r *RecordingStore) Put(ctx context.Context, name string, data []byte, ifMatch store.Tag) error {
	r.mu.Lock()
	r.puts = append(r.puts, name)
	r.mu.Unlock()
	return r.Store.Put(ctx, name, data, ifMatch)
}

// Puts are the names written so far, in order.
func (r *RecordingStore) Puts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.puts...)
}
