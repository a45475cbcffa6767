/**
 * The functions with the most self time in a V8 CPU profile (idle excluded), e.g. one written by
 * `npm run bench -- --cpu-prof <dir>`:
 *
 *   npm run -s profile:top -- <file.cpuprofile> [n]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const profile = JSON.parse(readFileSync(process.argv[2], 'utf8')) as CpuProfile;
const limit = Number(process.argv[3] ?? 15);
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const { callFrame } = byId.get(id)!;
  const dt = profile.timeDeltas[i] ?? 0;
  if (callFrame.functionName === '(idle)') return;
  total += dt;
  const where = callFrame.url
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\/.*\/dist\//, 'dist/');
  const name = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
  self.set(name, (self.get(name) ?? 0) + dt);
});
const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
console.log(`busy ${(total / 1e6).toFixed(1)} s`);
for (const [name, us] of top)
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`);
