package session

import (
	"context"
	"fmt"

	"github.com/tufkeys/tufkeys/translog"
)

// LogFiles reads a repository's log files for translog, each once: a
// consistency proof and an inclusion proof share tiles, and a copy reuses
// what the proofs read. A file the repository does not have is
// translog.ErrMissing; other failures are as download gives them.
type LogFiles struct {
	download func(name string, max int64) ([]byte, error)
	// Read holds every file read so far, by name.
	Read map[string][]byte
}

// NewLogFiles reads log files through download.
func NewLogFiles(download func(name string, max int64) ([]byte, error)) *LogFiles {
	return &LogFiles{download: download, Read: map[string][]byte{}}
}

// Fetch is a translog.Fetch.
func (l *LogFiles) Fetch(_ context.Context, name string, max int64) ([]byte, error) {
	if data, ok := l.Read[name]; ok && int64(len(data)) <= max {
		return data, nil
	}
	data, err := l.download(name, max)
	if IsMissing(err) {
		return nil, fmt.Errorf("%s: %w", name, translog.ErrMissing)
	}
	if err != nil {
		return nil, err
	}
	l.Read[name] = data
	return data, nil
}
