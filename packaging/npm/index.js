// statevtab for Node: the path of the loadable SQLite extension built for
// this platform, and load(db) for a better-sqlite3 (or node:sqlite)
// database, as sqlite-vec's package does.
'use strict';
const path = require('path');
const fs = require('fs');

function getLoadablePath() {
  const p = path.join(__dirname, 'lib', 'statevtab.so');
  if (!fs.existsSync(p)) {
    throw new Error(`statevtab: ${p} is missing (this package was built for ` +
                    `${require('./package.json').os} ${require('./package.json').cpu})`);
  }
  return p;
}

function load(db) {
  db.loadExtension(getLoadablePath());
}

module.exports = { getLoadablePath, load };
