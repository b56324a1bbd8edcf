// The npm just-bash side of the benchmark: node bench.mjs ROOT RUNS WARMUP 'JSON list of commands'.
// Prints one JSON object: per command the sorted durations in ms, and the process's peak RSS.
import { Bash, OverlayFs } from "just-bash";

const [root, runsArg, warmArg, cmdsArg] = process.argv.slice(2);
const runs = Number(runsArg);
const warmup = Number(warmArg);
const cmds = JSON.parse(cmdsArg);
const mountPoint = "/home/user/project";
const fs = new OverlayFs({ root, mountPoint });
const bash = new Bash({ fs, cwd: mountPoint });
const out = { commands: {}, stdout: {} };
for (const cmd of cmds) {
  for (let i = 0; i < warmup; i++) await bash.exec(cmd);
  const times = [];
  let last = null;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    last = await bash.exec(cmd);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  out.commands[cmd] = times;
  out.stdout[cmd] = last.stdout;
}
out.max_rss_kib = process.resourceUsage().maxRSS;
console.log(JSON.stringify(out));
