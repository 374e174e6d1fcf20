//go:build !tufkeys_client

package main

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
