// Package translog is tufkeys' transparency log: every root version and
// every key list a repository publishes is an entry of an append-only
// Merkle log in the C2SP tlog-tiles layout, stored with the repository
// under log/, with checkpoints as C2SP signed notes cosigned by witnesses
// (C2SP tlog-witness, tlog-cosignature). The log's key and the witness
// policy are in the root's signed custom field (Policy), so the root
// ceremony sets and rotates them.
//
// A client accepts a key list only with a proof that its entry is in the
// log under a checkpoint signed by the log and cosigned by the quorum of
// the root's witnesses (Verifier). The Merkle tree, tiles, proofs, notes
// and cosignatures come from golang.org/x/mod/sumdb (note, tlog) and
// transparency-dev (formats, tessera's layout).
//
// Files under log/:
//
//	log/checkpoint                  the newest checkpoint, cosigned
//	log/tile/L/N[.p/W]              hash tiles (tlog-tiles)
//	log/tile/entries/N[.p/W]        entry bundles (tlog-tiles)
//	log/index/REGISTRY/SHA256       "INDEX\nENTRY": where a key list's entry is
//	log/index/_root/SHA256          the same for a root version
//	log/latest/REGISTRY             the same for the registry's newest entry
//	log/pending/SIZE                an append from SIZE, signed by the log key,
//	                                so that any publisher can finish it
package translog

// Dir is the folder of the log in a repository.
const Dir = "log/"
