// Builds a Sigstore-shaped TUF repository with tuf-js's models
// (@tufjs/models), an implementation independent of tufkeys and go-tuf:
// five root and targets keyholders, threshold 3, ECDSA P-256 keys in PEM
// form with tuf-on-ci's fields, an online key for snapshot and timestamp,
// a terminating delegation named after HOST (paths HOST/*) to the
// registry operator's key, and HOST/keys.json from LIST, consistent
// snapshots. With "rotate", root v2 replaces two keyholders (signed by the
// old threshold and the new) and targets is signed again.
//
//   NODE_PATH=<tuf-js node_modules> node tufjs-shaped.js DIR HOST LIST [rotate]
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Metadata, Root, Targets, Snapshot, Timestamp, Key, Signature, MetaFile, TargetFile } = require('@tufjs/models');
const { DelegatedRole } = require('@tufjs/models/dist/role');
const { Delegations } = require('@tufjs/models/dist/delegations');
const { canonicalize } = require('@tufjs/canonical-json');

const [dir, host, listFile, mode] = process.argv.slice(2);
const list = fs.readFileSync(listFile);
const expires = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

function newKey(fields) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  const bare = { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } };
  const keyID = crypto.createHash('sha256').update(canonicalize(bare)).digest('hex');
  const key = new Key({ keyID, keyType: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyVal: { public: pem }, unrecognizedFields: fields });
  const signer = (bytes) => new Signature({ keyID, sig: crypto.sign('sha256', bytes, privateKey).toString('hex') });
  return { key, signer };
}

function write(name, md) {
  fs.writeFileSync(path.join(dir, name), JSON.stringify(md.toJSON(), null, 1));
}

function signed(md, signers) {
  md.signatures = {};
  for (const s of signers) md.sign(s, true);
  return md;
}

fs.mkdirSync(path.join(dir, 'targets', host), { recursive: true });
const holders = [1, 2, 3, 4, 5].map((i) => newKey({ 'x-tuf-on-ci-keyowner': `@holder${i}` }));
const online = newKey({ 'x-tuf-on-ci-online-uri': 'gcpkms:projects/example/locations/global/keyRings/root/cryptoKeys/timestamp/cryptoKeyVersions/1' });
const operator = newKey({ 'x-tuf-on-ci-online-uri': 'awskms:///arn:aws:kms:us-east-1:000000000000:key/operator' });

const root = new Root({ version: 1, expires, consistentSnapshot: true, unrecognizedFields: { 'x-tuf-on-ci-expiry-period': 365, 'x-tuf-on-ci-signing-period': 60 } });
for (const h of holders) {
  root.addKey(h.key, 'root');
  root.addKey(h.key, 'targets');
}
root.addKey(online.key, 'snapshot');
root.addKey(online.key, 'timestamp');
root.roles.root.threshold = 3;
root.roles.targets.threshold = 3;
const rootMD = new Metadata(root);
write('1.root.json', signed(rootMD, holders.slice(0, 3).map((h) => h.signer)));

const digest = crypto.createHash('sha256').update(list).digest('hex');
const role = new Targets({ version: 1, expires, unrecognizedFields: { 'x-tuf-on-ci-expiry-period': 182 } });
role.addTarget(new TargetFile({ path: `${host}/keys.json`, length: list.length, hashes: { sha256: digest } }));
fs.writeFileSync(path.join(dir, 'targets', host, `${digest}.keys.json`), list);

const delegations = new Delegations({
  keys: { [operator.key.keyID]: operator.key },
  roles: { [host]: new DelegatedRole({ name: host, keyIDs: [operator.key.keyID], threshold: 1, terminating: true, paths: [`${host}/*`] }) },
});
const top = new Targets({ version: 1, expires, delegations, unrecognizedFields: { 'x-tuf-on-ci-expiry-period': 365 } });
let targetsSigners = holders.slice(0, 3).map((h) => h.signer);

if (mode === 'rotate') {
  const old = holders.slice(0, 3).map((h) => h.signer);
  for (const i of [0, 1]) {
    for (const r of ['root', 'targets']) {
      root.roles[r].keyIDs = root.roles[r].keyIDs.filter((id) => id !== holders[i].key.keyID);
    }
    delete root.keys[holders[i].key.keyID];
    holders[i] = newKey({ 'x-tuf-on-ci-keyowner': `@new${i + 1}` });
    root.addKey(holders[i].key, 'root');
    root.addKey(holders[i].key, 'targets');
  }
  root.version = 2;
  const signers = [...old, ...holders.slice(0, 3).map((h) => h.signer)];
  const uniq = [...new Map(signers.map((s) => [s(Buffer.from('x')).keyID, s])).values()];
  write('2.root.json', signed(new Metadata(root), uniq));
  targetsSigners = holders.slice(0, 3).map((h) => h.signer);
}

const roleMD = signed(new Metadata(role), [operator.signer]);
write(`1.${host}.json`, roleMD);
const topMD = signed(new Metadata(top), targetsSigners);
write('1.targets.json', topMD);
const snapshot = new Snapshot({ version: 1, expires, meta: { 'targets.json': new MetaFile({ version: 1 }), [`${host}.json`]: new MetaFile({ version: 1 }) } });
write('1.snapshot.json', signed(new Metadata(snapshot), [online.signer]));
const timestamp = new Timestamp({ version: 1, expires, snapshotMeta: new MetaFile({ version: 1 }) });
write('timestamp.json', signed(new Metadata(timestamp), [online.signer]));
