package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tufkeys/tufkeys/client"
	"github.com/tufkeys/tufkeys/internal/safefile"
)

// options are the suite's flags and the environment around them.
type options struct {
	MetadataDir   string
	MetadataURL   string
	TargetBaseURL string
	TargetDir     string
	TargetNames   []string
	Verbose       bool
	Speculate     bool
	Clock         func() time.Time
	Log           io.Writer
}

// cacheName is the client's own cache inside the metadata directory; the
// suite reads only the *.json files beside it.
const cacheName = "tufkeys-cache"

const maxRoot = 1 << 20

// initialize trusts a root: it becomes the metadata directory's root.json.
func initialize(opts options, rootFile string) error {
	root, err := safefile.Read(rootFile, maxRoot)
	if err != nil {
		return fmt.Errorf("read the trusted root: %w", err)
	}
	if err := os.MkdirAll(opts.MetadataDir, 0o755); err != nil {
		return err
	}
	return safefile.Write(filepath.Join(opts.MetadataDir, "root.json"), root, 0o644)
}

// open makes a client that trusts the metadata directory's root.json.
func open(opts options) (*client.Client, error) {
	if opts.MetadataURL == "" {
		return nil, errors.New("--metadata-url is required")
	}
	root, err := safefile.Read(filepath.Join(opts.MetadataDir, "root.json"), maxRoot)
	if err != nil {
		return nil, fmt.Errorf("read the trusted root (run init first): %w", err)
	}
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelDebug
	}
	return client.New(client.Options{
		Repositories:  []string{opts.MetadataURL},
		TargetBaseURL: opts.TargetBaseURL,
		TrustedRoot:   root,
		CacheDir:      filepath.Join(opts.MetadataDir, cacheName),
		MaxAge:        client.Age(0),
		Sequential:    !opts.Speculate,
		NoFallback:    true,
		Clock:         opts.Clock,
		Logger:        slog.New(slog.NewTextHandler(opts.Log, &slog.HandlerOptions{Level: level})),
	})
}

// refresh updates the top-level metadata.
func refresh(ctx context.Context, opts options) error {
	cl, err := open(opts)
	if err != nil {
		return err
	}
	_, err = cl.TUF().RefreshMetadata(ctx)
	return errors.Join(err, export(ctx, cl, opts.MetadataDir))
}

// download updates the metadata and downloads the targets in order,
// stopping at the first that fails.
func download(ctx context.Context, opts options) error {
	if len(opts.TargetNames) == 0 || opts.TargetDir == "" || opts.TargetBaseURL == "" {
		return errors.New("download needs --target-name, --target-dir and --target-base-url")
	}
	cl, err := open(opts)
	if err != nil {
		return err
	}
	got, err := cl.TUF().Targets(ctx, opts.TargetNames)
	for i, data := range got {
		if werr := writeTarget(opts.TargetDir, opts.TargetNames[i], data); werr != nil {
			err = errors.Join(err, werr)
			break
		}
	}
	return errors.Join(err, export(ctx, cl, opts.MetadataDir))
}

// writeTarget stores a verified target under its URL-quoted path.
func writeTarget(dir, targetPath string, data []byte) error {
	return writeIfChanged(filepath.Join(dir, url.QueryEscape(targetPath)), data)
}

// writeIfChanged replaces a file atomically, leaving one that already
// holds the same bytes alone.
func writeIfChanged(p string, data []byte) error {
	if old, err := safefile.Read(p, int64(len(data))+1); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return safefile.Write(p, data, 0o644)
}

// export writes the client's trusted metadata into the metadata directory
// as ROLE.json, role names path-escaped, and removes what it no longer
// trusts.
func export(ctx context.Context, cl *client.Client, dir string) error {
	roles, err := cl.TUF().TrustedMetadata(ctx)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for role, data := range roles {
		name := url.PathEscape(role) + ".json"
		keep[name] = true
		if err := writeIfChanged(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") && !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
