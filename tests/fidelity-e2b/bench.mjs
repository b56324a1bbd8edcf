// The benchmark's "official SDK" side: the same work as Atlas's E2B plugin does it
// (packages/plugins/e2b: Sandbox.create, one files.write of every file as UTF-8 text under
// semantic/, commands.run with cwd and Atlas's `timeout` option, kill on close).
// Usage: node bench.mjs <layer dir> <commands.json>; prints one JSON line of timings.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { Sandbox, CommandExitError } from 'e2b'

const [layer, commandsFile] = process.argv.slice(2)
const commands = JSON.parse(readFileSync(commandsFile, 'utf8'))

function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else out.push(p)
  }
  return out
}

async function run(sbx, command) {
  try {
    // Atlas passes `timeout` (seconds), which the SDK ignores (it wants timeoutMs).
    const r = await sbx.commands.run(command, { cwd: '/home/user/semantic', timeout: 30 })
    return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', exitCode: r.exitCode ?? 1 }
  } catch (e) {
    if (e instanceof CommandExitError) return { stdout: '', stderr: e.message, exitCode: 1 }
    throw e
  }
}

const t0 = performance.now()
const sbx = await Sandbox.create({ apiKey: process.env.E2B_API_KEY })
const files = walk(layer).map((p) => ({
  path: join('semantic', relative(layer, p)),
  data: readFileSync(p, 'utf8'),
}))
await sbx.files.write(files)
const first = await run(sbx, 'ls')
const t1 = performance.now()
let bytes = first.stdout.length
for (const c of commands) bytes += (await run(sbx, c)).stdout.length
const t2 = performance.now()
await sbx.kill()
const t3 = performance.now()
console.log(JSON.stringify({
  setup_ms: t1 - t0,
  commands_ms: t2 - t1,
  close_ms: t3 - t2,
  total_ms: t3 - t0,
  files: files.length,
  stdout_bytes: bytes,
}))
