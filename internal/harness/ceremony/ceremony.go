// Package ceremony runs real signing ceremonies with keys held in memory: a
// workspace, maintainers, an online key, and a published repository in a
// directory. tufkeys demo runs its story with it, and the tests build their
// repositories with it; it is not test code, and the thin client does not
// link it.
package ceremony

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tufkeys/tufkeys/bundle"
	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/workspace"
	"github.com/tufkeys/tufkeys/store"
	"github.com/tufkeys/tufkeys/translog"
)

// Key is a key pair held in memory.
type Key struct {
	Signer *keyfile.Signer
	Public workspace.PublicKey
}

// NewKey generates an ECDSA P-256 key named name.
func NewKey(name string) (Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Key{}, err
	}
	return KeyFrom(priv, name)
}

// KeyFrom wraps an existing private key.
func KeyFrom(priv crypto.Signer, name string) (Key, error) {
	s, err := keyfile.NewSigner(priv, name)
	if err != nil {
		return Key{}, err
	}
	return Key{Signer: s, Public: workspace.PublicKey{Name: name, Key: priv.Public()}}, nil
}

// Ceremony is a workspace with its maintainers, online key and destination.
type Ceremony struct {
	WS          *workspace.Workspace
	Maintainers []Key
	Online      Key
	RepoDir     string
	Store       store.Store
	// LogKey signs the transparency log when the root names one, and
	// LogWitness asks its witnesses (nil: over HTTP).
	LogKey     *keyfile.Signer
	LogWitness logappend.WitnessClient
}

// Options shape a ceremony; zero values give three maintainers with
// threshold 2.
type Options struct {
	Maintainers int
	Threshold   int
	Now         func() time.Time
	Expiry      workspace.Periods
	// Bins puts the key lists in this many hashed bins; zero: in targets.
	Bins int
	// Log names a transparency log in root v1, signed by LogKey.
	Log        *translog.Policy
	LogKey     *keyfile.Signer
	LogWitness logappend.WitnessClient
}

// New initializes a workspace under dir/workspace and a destination under
// dir/repo, and signs root v1 and targets v1 with the first threshold of
// maintainers. Nothing is published yet.
func New(dir string, opts Options) (*Ceremony, error) {
	if opts.Maintainers == 0 {
		opts.Maintainers, opts.Threshold = 3, 2
	}
	c := &Ceremony{RepoDir: filepath.Join(dir, "repo"), LogKey: opts.LogKey, LogWitness: opts.LogWitness}
	var pubs []workspace.PublicKey
	for i := range opts.Maintainers {
		k, err := NewKey(fmt.Sprintf("maintainer%d", i+1))
		if err != nil {
			return nil, err
		}
		c.Maintainers = append(c.Maintainers, k)
		pubs = append(pubs, k.Public)
	}
	var err error
	if c.Online, err = NewKey("online"); err != nil {
		return nil, err
	}
	c.WS, err = workspace.Init(filepath.Join(dir, "workspace"), workspace.InitOptions{
		RootKeys: pubs, RootThreshold: opts.Threshold, OnlineKey: c.Online.Public, Now: opts.Now, Expiry: opts.Expiry, Bins: opts.Bins, Log: opts.Log,
	})
	if err != nil {
		return nil, err
	}
	if c.Store, err = store.NewDir(c.RepoDir); err != nil {
		return nil, err
	}
	if err := c.Sign(opts.Threshold); err != nil {
		return nil, err
	}
	return c, nil
}

// Sign signs everything staged with the first n maintainers.
func (c *Ceremony) Sign(n int) error {
	for _, k := range c.Maintainers[:n] {
		if _, err := c.WS.Sign(k.Signer); err != nil {
			return fmt.Errorf("%s signs: %w", k.Public.Name, err)
		}
	}
	return nil
}

// Publish publishes to the ceremony's directory.
func (c *Ceremony) Publish() (publish.Report, error) {
	return publish.Publish(context.Background(), c.WS, c.Online.Signer, c.Store, c.PublishOptions())
}

// PublishOptions are the options of the ceremony's publishes: its log
// key, when it has one.
func (c *Ceremony) PublishOptions() publish.Options {
	var o publish.Options
	if c.LogKey != nil {
		o.Log = &publish.LogOptions{Key: c.LogKey, Witness: c.LogWitness}
	}
	return o
}

// StagePublish stages a key list for host, signs with n maintainers and
// publishes.
func (c *Ceremony) StagePublish(host string, list []byte, n int) error {
	return c.stageSignPublish(host, list, nil, n)
}

// StagePublishRemoving is StagePublish for a list that drops keys the
// published list has, removing them on purpose.
func (c *Ceremony) StagePublishRemoving(host string, list []byte, n int) error {
	parsed, err := bundle.Parse(list)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, k := range parsed.List.Keys {
		have[k.KeyID] = true
	}
	var remove []string
	if cur, err := c.WS.PublishedList(host); err == nil && cur != nil {
		for _, k := range cur.Keys {
			if !have[k.KeyID] {
				remove = append(remove, k.KeyID)
			}
		}
	}
	return c.stageSignPublish(host, list, remove, n)
}

func (c *Ceremony) stageSignPublish(host string, list []byte, remove []string, n int) error {
	if _, err := c.WS.Stage(host, list, remove); err != nil {
		return err
	}
	if err := c.Sign(n); err != nil {
		return err
	}
	_, err := c.Publish()
	return err
}

// RootBytes returns the published root version v, the trust anchor a
// client embeds, from the workspace's history (whatever the destination).
func (c *Ceremony) RootBytes(v int) ([]byte, error) {
	return os.ReadFile(filepath.Join(c.WS.Dir, "published", fmt.Sprintf("%d.root.json", v)))
}
