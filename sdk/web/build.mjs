// Builds the SDK bundles the runner embeds (dist/traceflow.js, dist/traceflow.mjs), or with --tests the test
// modules (build/test). Deterministic: the same sources and lockfile give the same bytes, which `.ci/run` checks
// against the committed dist/.

import { build } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';

const common = { bundle: true, minify: true, target: ['es2019'], legalComments: 'eof', logLevel: 'warning' };

if (process.argv.includes('--tests')) {
  const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);
  await build({ entryPoints: tests, outdir: 'build/test', bundle: true, platform: 'node', format: 'esm', logLevel: 'warning' });
} else {
  await build({ ...common, entryPoints: ['src/script.ts'], outfile: 'dist/traceflow.js', format: 'iife' });
  await build({ ...common, entryPoints: ['src/index.ts'], outfile: 'dist/traceflow.mjs', format: 'esm' });
  for (const file of ['dist/traceflow.js', 'dist/traceflow.mjs']) {
    const bytes = readFileSync(file);
    console.log(`${file}: ${statSync(file).size} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped`);
  }
}
