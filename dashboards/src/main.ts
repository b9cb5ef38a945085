#!/usr/bin/env node
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compileDashboards } from './build.js';

/** `npm run dashboards`: compiles the dashboards into the chart, which ships them as ConfigMaps. */
const out = resolve(import.meta.dirname, '../../charts/kvflow/dashboards');
mkdirSync(out, { recursive: true });
for (const [file, json] of Object.entries(compileDashboards())) {
  writeFileSync(join(out, file), json);
  process.stdout.write(`wrote charts/kvflow/dashboards/${file}\n`);
}
