#!/usr/bin/env node
// test/flags/gen-spec.js -- regenerate test/sql/45-flags-spec.sql and its
// expected output from Unleash's client specification (the npm package
// @unleash/client-specification: JSON suites of feature definitions,
// contexts and the answers every Unleash SDK must give).  The spec is the
// oracle: the expected output is the spec's own answers, never a run of
// statevtab.  Nothing here runs at test time; only the generated files
// are used by test/sqltest.sh.
//
//   mkdir /tmp/unleash-ref && cd /tmp/unleash-ref &&
//     npm install @unleash/client-specification@6.1.0
//   node test/flags/gen-spec.js /tmp/unleash-ref/node_modules/@unleash/client-specification
//
// Writes (relative to the repository root):
//   test/sql/45-flags-spec.sql, test/sql/expected/45-flags-spec.out
//       every suite but the delta API's (see SKIP below)
//
// Mapping: one state_flags table per suite (fNN, @OPTS:fNN@); each feature
// becomes a row (name, enabled, strategies, variants, dependencies), the
// JSON arrays as the spec has them (a strategy's "segments" ids too),
// minified; other feature fields (description, project, type, stale,
// impressionData) are dropped.  A suite with segments also gets a
// state_segments table sNN in the same namespace, one row (id, name,
// constraints) per segment, named by the flags table's segments= option.  Each
// isEnabled case prints "<suite>/<description>|<expected 1/0>|<actual>",
// each getVariant case "<suite>/<description>|<expected json>|<actual>",
// the JSON as {"name","enabled","payload" (when present),"feature_enabled"},
// minified.  The context JSON passes through as is.
'use strict';
const fs = require('fs');
const path = require('path');

const specDir = process.argv[2];
if (!specDir) {
  console.error('usage: node test/flags/gen-spec.js PATH/TO/@unleash/client-specification');
  process.exit(2);
}
const root = path.resolve(__dirname, '..', '..');
const specVersion = JSON.parse(fs.readFileSync(path.join(specDir, 'package.json'))).version;
const suitesDir = path.join(specDir, 'specifications');
const index = JSON.parse(fs.readFileSync(path.join(suitesDir, 'index.json')));

// Suites left out of 45-flags-spec, and why: their state is delta-API
// events, applied by state_flags_apply_delta in test/sql/45-flags-delta.sql.
const SKIP = {
  '19-delta-api-hydration.json': 'delta API events (hydration): in 45-flags-delta',
  '20-delta-api-events.json': 'delta API events (feature-updated/removed, segment-updated): in 45-flags-delta',
};

const q = (s) => "'" + String(s).replace(/'/g, "''") + "'";
const line1 = (s) => String(s).replace(/[\r\n]+/g, ' ');

function variantJson(v) {
  const o = { name: v.name, enabled: v.enabled };
  if (v.payload !== undefined) o.payload = v.payload;
  o.feature_enabled = v.feature_enabled;
  return JSON.stringify(o);
}

// Features of a suite as rows, strategies as the spec has them.
function featureRows(spec) {
  return (spec.state.features || []).map((f) => ({
    name: f.name,
    enabled: f.enabled ? 1 : 0,
    strategies: JSON.stringify(f.strategies || []),
    variants: JSON.stringify(f.variants || []),
    dependencies: JSON.stringify(f.dependencies || []),
  }));
}

function emitSuite(file, sql, out, report) {
  const spec = JSON.parse(fs.readFileSync(path.join(suitesDir, file)));
  const suite = spec.name || file.replace(/\.json$/, '');
  const tbl = 'f' + file.slice(0, 2);
  const segTbl = 's' + file.slice(0, 2);
  const segments = spec.state.segments || [];
  const rows = featureRows(spec);
  const tests = (spec.tests || []).map((t) => ({ kind: 'T', ...t }))
    .concat((spec.variantTests || []).map((t) => ({ kind: 'V', ...t })));
  const head = `-- ${suite}: ${rows.length} features` +
    (segments.length ? `, ${segments.length} segments` : '') +
    `, ${tests.filter((t) => t.kind === 'T').length} isEnabled` +
    ` and ${tests.filter((t) => t.kind === 'V').length} getVariant cases`;
  sql.push('', head);
  out.push(head);
  if (segments.length) {
    sql.push(`CREATE VIRTUAL TABLE ${segTbl} USING state_segments(@OPTS:${tbl}@);`);
    sql.push(`INSERT INTO ${segTbl}(id, name, constraints) VALUES`);
    sql.push(segments.map((g) => `  (${g.id}, ${g.name === undefined ? 'NULL' : q(g.name)}, ${q(JSON.stringify(g.constraints || []))})`).join(',\n') + ';');
    sql.push(`CREATE VIRTUAL TABLE ${tbl} USING state_flags(@OPTS:${tbl}@, segments='${segTbl}');`);
  } else {
    sql.push(`CREATE VIRTUAL TABLE ${tbl} USING state_flags(@OPTS:${tbl}@);`);
  }
  if (rows.length) {
    sql.push(`INSERT INTO ${tbl}(name, enabled, strategies, variants, dependencies) VALUES`);
    sql.push(rows.map((r) => `  (${q(r.name)}, ${r.enabled}, ${q(r.strategies)},\n   ${q(r.variants)}, ${q(r.dependencies)})`).join(',\n') + ';');
  }
  const seen = new Map();
  for (const t of tests) {
    let label = `${suite}/${line1(t.description)}`;
    const n = (seen.get(label) || 0) + 1;
    seen.set(label, n);
    if (n > 1) label += ` #${n}`;
    const ctx = JSON.stringify(t.context || {});
    if (t.kind === 'T') {
      const exp = t.expectedResult ? 1 : 0;
      sql.push(`SELECT ${q(label)}, ${exp}, state_flag(${q(tbl)}, ${q(t.toggleName)}, ${q(ctx)});`);
      out.push(`${label}|${exp}|${exp}`);
    } else {
      const exp = variantJson(t.expectedResult);
      sql.push(`SELECT ${q(label)}, ${q(exp)},\n       state_variant(${q(tbl)}, ${q(t.toggleName)}, ${q(ctx)});`);
      out.push(`${label}|${exp}|${exp}`);
    }
  }
  report.push({ file, suite, features: rows.length, segments: segments.length,
    tests: tests.filter((t) => t.kind === 'T').length,
    variantTests: tests.filter((t) => t.kind === 'V').length });
}

function write(rel, text) {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, text);
}

function build(files, intro) {
  const sql = intro.slice();
  const out = intro.slice();
  const report = [];
  for (const f of files) emitSuite(f, sql, out, report);
  return { sql: sql.join('\n') + '\n', out: out.join('\n') + '\n', report };
}

const main = build(index.filter((f) => !SKIP[f]), [
  `-- 45-flags-spec: Unleash's client specification (@unleash/client-specification`,
  `-- ${specVersion}), generated by test/flags/gen-spec.js: do not edit by hand.`,
  `-- Each case prints <suite>/<description>|<expected>|<actual>, the expected`,
  `-- value being the spec's answer (isEnabled as 1/0, getVariant as JSON).`,
  `-- Segments are rows of a state_segments table (sNN) named by segments=.`,
  `-- Not here (see test/flags/README.md):`,
  ...Object.keys(SKIP).map((f) => `--   ${f.replace(/\.json$/, '')}`),
]);
write('test/sql/45-flags-spec.sql', main.sql);
write('test/sql/expected/45-flags-spec.out', main.out);

console.log('45-flags-spec:');
for (const s of main.report) {
  console.log(`  ${s.suite}: ${s.features} features, ${s.segments} segments, ${s.tests} isEnabled, ${s.variantTests} getVariant`);
}
for (const [f, why] of Object.entries(SKIP)) console.log(`not in 45-flags-spec: ${f}: ${why}`);
