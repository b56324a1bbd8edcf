// The benchmark's baseline: the official SDK doing what Atlas's Daytona plugin does
// (reference/atlas.md section 2.4): `daytona.create()` without parameters, one unquoted
// `mkdir -p` of the directories, one `fs.uploadFile` per file under /home/daytona, each command
// through `process.executeCommand(cmd, "/home/daytona/semantic", undefined, timeoutSec)`, and
// `daytona.delete(sandbox)` to close.
//
//   DAYTONA_API_URL=... DAYTONA_API_KEY=... BENCH_LAYER=/path/to/semantic \
//   BENCH_COMMANDS='["ls","cat a.yml"]' node bench.mjs
//
// Prints one JSON line: {"setup_ms":..,"commands_ms":..,"close_ms":..,"failures":..}.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Daytona } from '@daytonaio/sdk';

const layer = process.env.BENCH_LAYER;
const commands = JSON.parse(process.env.BENCH_COMMANDS ?? '[]');
// Phase marks: a list call whose label filter names the phase, so the harness can split the
// round trips it records by phase (and leave the marks out of the counts).
const mark = async (name) => {
  await fetch(`${process.env.DAYTONA_API_URL}/sandbox?labels=${encodeURIComponent(JSON.stringify({ 'bench-phase': name }))}`, {
    headers: { Authorization: `Bearer ${process.env.DAYTONA_API_KEY}` },
  });
};

function collect(dir, out = { files: [], dirs: [] }) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      out.dirs.push(relative(layer, p));
      collect(p, out);
    } else {
      out.files.push(relative(layer, p));
    }
  }
  return out;
}

const daytona = new Daytona({ apiKey: process.env.DAYTONA_API_KEY, apiUrl: process.env.DAYTONA_API_URL });
const root = '/home/daytona/semantic';
let failures = 0;

await mark('setup');
const t0 = performance.now();
const sandbox = await daytona.create();
const { files, dirs } = collect(layer);
const mkdirs = [root, ...dirs.map((d) => `${root}/${d}`)].sort();
await sandbox.process.executeCommand(`mkdir -p ${mkdirs.join(' ')}`);
for (const f of files) {
  await sandbox.fs.uploadFile(readFileSync(join(layer, f)), `${root}/${f}`);
}
const first = await sandbox.process.executeCommand('ls', root, undefined, 30);
if (first.exitCode !== 0) failures++;
const t1 = performance.now();
await mark('commands');
const t1b = performance.now();
for (const c of commands) {
  try {
    await sandbox.process.executeCommand(c, root, undefined, 30);
  } catch {
    failures++;
  }
}
const t2 = performance.now();
await mark('close');
const t2b = performance.now();
await daytona.delete(sandbox);
const t3 = performance.now();
await mark('end');
console.log(JSON.stringify({
  setup_ms: t1 - t0,
  commands_ms: t2 - t1b,
  close_ms: t3 - t2b,
  failures,
}));
