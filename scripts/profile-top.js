#!/usr/bin/env node
// node scripts/profile-top.js <file.cpuprofile> [n]: the n functions with the most self time (idle excluded).
const { readFileSync } = require('node:fs');

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const limit = Number(process.argv[3] ?? 15);
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const deltas = profile.timeDeltas;
let total = 0;
profile.samples.forEach((id, i) => {
  const { callFrame } = byId.get(id);
  const dt = deltas[i] ?? 0;
  if (callFrame.functionName === '(idle)') return;
  total += dt;
  const where = callFrame.url
    ? callFrame.url
        .replace(/^.*node_modules\//, '')
        .replace(/^file:\/\/.*\/dist\//, 'dist/')
    : '';
  const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
  self.set(name, (self.get(name) ?? 0) + dt);
});
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
console.log(`busy ${(total / 1e6).toFixed(1)} s`);
for (const [name, us] of top)
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`);
