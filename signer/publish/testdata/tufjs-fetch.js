// Fetches one target with tuf-js, npm's TUF client, and prints it:
// node tufjs-fetch.js URL DIR TARGET (DIR/meta holds the trusted root.json).
const fs = require('fs');
const path = require('path');
const { Updater } = require('tuf-js');

const [, , url, dir, target] = process.argv;
(async () => {
  const updater = new Updater({
    metadataBaseUrl: url,
    targetBaseUrl: url + '/targets',
    metadataDir: path.join(dir, 'meta'),
    targetDir: path.join(dir, 'targets'),
  });
  await updater.refresh();
  const info = await updater.getTargetInfo(target);
  if (!info) {
    throw new Error('no target ' + target);
  }
  const file = await updater.downloadTarget(info);
  process.stdout.write(fs.readFileSync(file));
})().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
