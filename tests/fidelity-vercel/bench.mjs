// The benchmark's baseline: the official @vercel/sandbox SDK doing the session the way Atlas's
// plugin (@useatlas/vercel-sandbox, reference/atlas.md section 2.5) does it: create with
// runtime node24 + deny-all + persistent:false + tags, mkDir for every directory (mkDir is not
// recursive), one writeFiles, then runCommand("sh", ["-c", cmd]) in /vercel/sandbox/semantic
// and stdout()/stderr() for each command, and stop() at close.
//
// Usage: VERCEL_EMULATOR_URL=... BENCH_LAYER=/path/to/layer BENCH_COMMANDS='["ls",...]' node bench.mjs
// Prints one JSON line: {"setup_ms","commands_ms","close_ms","total_ms","first_stdout_bytes"}.

import { Sandbox } from "@vercel/sandbox";
import fs from "node:fs";
import path from "node:path";

const EMU = process.env.VERCEL_EMULATOR_URL;
const LAYER = process.env.BENCH_LAYER;
const COMMANDS = JSON.parse(process.env.BENCH_COMMANDS ?? "[]");
if (!EMU || !LAYER || COMMANDS.length === 0) {
  console.error("set VERCEL_EMULATOR_URL, BENCH_LAYER and BENCH_COMMANDS");
  process.exit(2);
}
process.env.VERCEL_SANDBOX_TELEMETRY_DISABLED = "1";
const fetch = (url, { dispatcher, ...opts } = {}) =>
  globalThis.fetch(String(url).replace("https://vercel.com/api", EMU), opts);
const creds = { token: "vercel_bench_token", teamId: "team_bench", projectId: "prj_bench", fetch };

// collectSemanticFiles(root, "semantic"): every file, with its path under "semantic/".
function collect(dir, rel, files, dirs) {
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const r = `${rel}/${name}`;
    const st = fs.statSync(full);
    if (st.isDirectory()) {
      dirs.add(r);
      collect(full, r, files, dirs);
    } else if (st.isFile()) {
      files.push({ path: r, content: fs.readFileSync(full) });
    }
  }
}

const t0 = performance.now();
const sandbox = await Sandbox.create({
  ...creds,
  runtime: "node24",
  networkPolicy: "deny-all",
  persistent: false,
  tags: { app: "atlas", source: "explore-plugin", env: "production" },
});
const files = [];
const dirs = new Set(["semantic"]);
collect(LAYER, "semantic", files, dirs);
for (const d of [...dirs].sort()) await sandbox.mkDir(d);
await sandbox.writeFiles(files);
const run = async (command) => {
  const r = await sandbox.runCommand({ cmd: "sh", args: ["-c", command], cwd: "/vercel/sandbox/semantic" });
  return { stdout: await r.stdout(), stderr: await r.stderr(), exitCode: r.exitCode };
};
const first = await run(COMMANDS[0]);
const t1 = performance.now();
for (const c of COMMANDS.slice(1)) {
  const r = await run(c);
  if (r.exitCode !== 0) {
    console.error(`command failed: ${c}: ${r.stderr}`);
    process.exit(1);
  }
}
const t2 = performance.now();
await sandbox.stop();
const t3 = performance.now();
console.log(
  JSON.stringify({
    setup_ms: t1 - t0,
    commands_ms: t2 - t1,
    close_ms: t3 - t2,
    total_ms: t3 - t0,
    first_stdout_bytes: first.stdout.length,
  }),
);
