//go:build !tufkeys_client

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/publish"
	"github.com/tufkeys/tufkeys/signer/watch"
	"github.com/tufkeys/tufkeys/signer/workspace"
)

// maintainerCommands are the commands of the full tool that the thin
// client leaves out, with everything they link: the ceremony, publishing
// to S3, keys on tokens and in KMS, the status page, the demo.
func maintainerCommands() []namedCommand {
	return []namedCommand{
		{"key", newKeyCommand},
		{"repo", newRepoCommand},
		{"serve", newServeCommand},
		{"demo", newDemoCommand},
		{"mirror", newMirrorCommand},
		{"export", newExportCommand},
		{"watch", newWatchCommand},
	}
}

// maintainerHints say what to do about the signer packages' errors; the
// more specific first.
var maintainerHints = []hintRule{
	{workspace.ErrWorkspaceFormat, "a newer tufkeys wrote it: use that one"},
	{workspace.ErrNotWorkspace, "run tufkeys repo init there first, or pass --workspace"},
	{workspace.ErrUninitialized, "run tufkeys repo init first"},
	{workspace.ErrNothingPublished, "run tufkeys repo publish first"},
	{workspace.ErrResignTargets, "stage it with tufkeys repo renew --role targets, and sign it"},
	{workspace.ErrNothingStaged, "stage a change first: tufkeys repo stage, rotate, delegate or renew"},
	{workspace.ErrBadRemoval, "drop that --remove-key"},
	{workspace.ErrNewRegistry, "check --registry, or pass --new to add a registry"},
	{watch.ErrNotPublished, "check --registry; a new registry is added with tufkeys repo stage --registry HOST --keys FILE --new"},
	{workspace.ErrOnlineRole, "run tufkeys repo timestamp instead"},
	{workspace.ErrAlsoTargets, "give --targets-threshold (or add a targets key) in the same tufkeys repo rotate"},
	{workspace.ErrNothingToChange, "tufkeys repo renew extends the root's expiry"},
	{workspace.ErrAlreadyWorkspace, "use tufkeys repo rotate to change its keys"},
	{workspace.ErrNoOnlineKey, "pass --online-key"},
	{publish.ErrNotPublishedThere, "run tufkeys repo publish first"},
	{publish.ErrWrongOnlineKey, "pass the right --online-key"},
	{publish.ErrOtherRepository, "check that --to names this repository's destination"},
	{watch.ErrNoWorkspace, "pass --workspace"},
	{keyfile.ErrKeyExists, "choose another --out name, or move the old file away first"},
	{keyfile.ErrNoKeyFile, "check the --key path"},
	{keyfile.ErrUnencrypted, "create one with tufkeys key generate"},
}

// maintainerUsage reports a signer package's error that is a mistake in
// how the command was called (exit 2): a bad value, an unknown key name, a
// public key where a private one is needed, a registry not listed yet.
func maintainerUsage(err error) bool {
	return errors.Is(err, workspace.ErrInvalid) || errors.Is(err, workspace.ErrNewRegistry) || errors.Is(err, keyfile.ErrNotAKey)
}

// maintainerHint is the hint for a signer package's error, empty for none.
func maintainerHint(err error) string {
	var expired *workspace.ExpiredError
	var dropped *workspace.DroppedKeyError
	var origin *workspace.OriginError
	switch {
	case errors.As(err, &expired):
		return fmt.Sprintf("stage a renewal with tufkeys repo renew --role %s, sign it, then publish", expired.Renew)
	case errors.As(err, &dropped):
		return "if the registry really retired it, stage the list again with --remove-key " + strings.Join(dropped.KeyIDs, " --remove-key ")
	case errors.As(err, &origin):
		return fmt.Sprintf("copy the origin there with tufkeys mirror --from ORIGIN-URL --to %s, or pass --move-origin to make %s the origin from now on", origin.Dest, origin.Dest)
	}
	for _, h := range maintainerHints {
		if errors.Is(err, h.err) {
			return h.hint
		}
	}
	return ""
}
