// Drives the OFFICIAL e2b SDK against atlas-emulator-e2b and checks every answer.
// Run: E2B_API_KEY=e2b_x E2B_API_URL=http://127.0.0.1:PORT E2B_SANDBOX_URL=http://127.0.0.1:PORT node fidelity.mjs
// Exits non-zero on any mismatch.
import {
  Sandbox,
  CommandExitError,
  TimeoutError,
  SandboxNotFoundError,
  AuthenticationError,
} from 'e2b'

let failures = 0
function check(cond, what, detail) {
  if (cond) {
    console.log(`ok    ${what}`)
  } else {
    failures++
    console.log(`FAIL  ${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`)
  }
}
async function expectThrow(what, fn, pred) {
  try {
    const v = await fn()
    check(false, what, { returned: v })
  } catch (e) {
    check(pred(e), what, { name: e?.constructor?.name, message: String(e?.message ?? e) })
    return e
  }
}

for (const v of ['E2B_API_KEY', 'E2B_API_URL', 'E2B_SANDBOX_URL']) {
  if (!process.env[v]) {
    console.error(`${v} is not set`)
    process.exit(2)
  }
}
const dir = '/home/user/semantic'

const sbx = await Sandbox.create({
  timeoutMs: 120_000,
  metadata: { suite: 'fidelity', 'atlas-sandbox': 'true' },
  allowInternetAccess: false,
})
check(typeof sbx.sandboxId === 'string' && sbx.sandboxId.length > 0, 'create returns a sandbox id')

// Files: one multipart request with two parts, then a single-file write (?path=).
const written = await sbx.files.write([
  { path: `${dir}/catalog.yml`, data: 'name: shop\nentities: [orders]\n' },
  { path: `${dir}/entities/orders.yml`, data: 'name: orders # Bestellungen\ncolumns: [id, customer_id]\n' },
])
check(Array.isArray(written) && written.length === 2 && written[1].path === `${dir}/entities/orders.yml`,
  'multi-file write returns entry infos', written)
const single = await sbx.files.write(`${dir}/notes.txt`, 'hello')
check(single.path === `${dir}/notes.txt` && single.name === 'notes.txt', 'single-file write', single)
check(await sbx.files.read(`${dir}/catalog.yml`) === 'name: shop\nentities: [orders]\n', 'read back a file')
await expectThrow('reading a missing file throws NotFound', () => sbx.files.read(`${dir}/missing.yml`),
  (e) => /not.?found|does not exist/i.test(e.constructor.name + e.message))

// Commands (Connect server streaming).
let streamed = ''
const r = await sbx.commands.run('cat entities/orders.yml; echo to-stderr >&2', {
  cwd: dir,
  timeoutMs: 10_000,
  onStdout: (d) => { streamed += d },
})
check(r.exitCode === 0, 'command exit code 0', r)
check(r.stdout === 'name: orders # Bestellungen\ncolumns: [id, customer_id]\n', 'stdout', r.stdout)
check(r.stderr === 'to-stderr\n', 'stderr', r.stderr)
check(streamed === r.stdout, 'onStdout saw the streamed output', streamed)

const ls = await sbx.commands.run('ls -1 && find . -name "*.yml" | sort', { cwd: dir })
check(ls.stdout === 'catalog.yml\nentities\nnotes.txt\n./catalog.yml\n./entities/orders.yml\n', 'ls/find in cwd', ls.stdout)

// Output streams while the command runs: the command waits for a file that is written only once
// its first line has arrived, so an emulator that held output until the end would time it out.
let released = null
const live = await sbx.commands.run('echo early; while [ ! -e go ]; do sleep 0.05; done; echo late', {
  cwd: dir,
  timeoutMs: 10_000,
  onStdout: (d) => {
    if (released === null && d.includes('early')) released = sbx.files.write(`${dir}/go`, '')
  },
}).catch((e) => ({ error: String(e?.message ?? e) }))
await released
check(live.exitCode === 0 && live.stdout === 'early\nlate\n', 'onStdout gets output while the command runs', live)

const exitErr = await expectThrow('non-zero exit throws CommandExitError', () =>
  sbx.commands.run('echo partial; echo oops >&2; exit 3', { cwd: dir }),
  (e) => e instanceof CommandExitError)
check(exitErr?.exitCode === 3 && exitErr?.stdout === 'partial\n' && exitErr?.stderr === 'oops\n',
  'CommandExitError carries exit code, stdout and stderr',
  { exitCode: exitErr?.exitCode, stdout: exitErr?.stdout, stderr: exitErr?.stderr })

const t0 = Date.now()
await expectThrow('a 1 s timeout throws TimeoutError', () =>
  sbx.commands.run('sleep 5', { timeoutMs: 1000 }), (e) => e instanceof TimeoutError)
check(Date.now() - t0 < 4000, 'the timeout fired promptly', Date.now() - t0)

// A background command killed through process.Process/SendSignal.
const bg = await sbx.commands.run('sleep 30', { background: true })
check(typeof bg.pid === 'number' && bg.pid > 0, 'background command has a pid', bg.pid)
check(await bg.kill() === true, 'killing a background command')

// Control plane.
const info = await sbx.getInfo()
check(info.sandboxId === sbx.sandboxId && info.metadata.suite === 'fidelity' && info.state === 'running',
  'getInfo', info)
await sbx.setTimeout(60_000)
check(await sbx.isRunning() === true, 'isRunning via envd /health')

const other = await Sandbox.create({ metadata: { suite: 'fidelity' } })
const pager = Sandbox.list({ query: { metadata: { suite: 'fidelity' } }, limit: 1 })
const page1 = await pager.nextItems()
check(page1.length === 1 && pager.hasNext, 'list page 1 of 2 (X-Next-Token)', { n: page1.length, hasNext: pager.hasNext })
const page2 = await pager.nextItems()
check(page2.length === 1 && !pager.hasNext && page2[0].sandboxId !== page1[0].sandboxId, 'list page 2', page2)
const ids = new Set([...page1, ...page2].map((s) => s.sandboxId))
check(ids.has(sbx.sandboxId) && ids.has(other.sandboxId), 'list finds both by metadata')
const none = await Sandbox.list({ query: { metadata: { suite: 'no-such' } } }).nextItems()
check(none.length === 0, 'metadata filter excludes others', none)

// Pause and resume: lifecycle.onTimeout 'pause' is autoPause at creation; pause is 204, then 409
// (false); a paused sandbox keeps its files, answers no envd call, lists as paused; connect
// resumes it (201) or finds it running (200).
const pz = await Sandbox.create({
  timeoutMs: 60_000,
  metadata: { suite: 'pause' },
  lifecycle: { onTimeout: 'pause' },
})
const pinfo = await pz.getInfo()
check(pinfo.lifecycle?.onTimeout === 'pause' && pinfo.lifecycle?.autoResume === false,
  'lifecycle onTimeout pause', pinfo.lifecycle)
await pz.files.write('/tmp/kept.txt', 'kept across pause')
check(await pz.pause() === true, 'pause returns true')
check(await Sandbox.pause(pz.sandboxId) === false, 'pausing a paused sandbox returns false (409)')
check((await pz.getInfo()).state === 'paused', 'getInfo says paused')
check(await pz.isRunning() === false, 'a paused sandbox answers no envd call (502)')
const pausedList = await Sandbox.list({ query: { metadata: { suite: 'pause' }, state: ['paused'] } }).nextItems()
check(pausedList.length === 1 && pausedList[0].sandboxId === pz.sandboxId && pausedList[0].state === 'paused',
  'list with state paused', pausedList)
const runningList = await Sandbox.list({ query: { metadata: { suite: 'pause' }, state: ['running'] } }).nextItems()
check(runningList.length === 0, 'list with state running excludes it', runningList)
const resumed = await Sandbox.connect(pz.sandboxId, { timeoutMs: 60_000 })
check(await resumed.files.read('/tmp/kept.txt') === 'kept across pause', 'files survive pause and connect')
check((await resumed.getInfo()).state === 'running', 'running after connect')
const afterResume = await resumed.commands.run('echo resumed')
check(afterResume.stdout === 'resumed\n', 'commands run after resume', afterResume)
await resumed.connect()
check(await resumed.isRunning() === true, 'connect to a running sandbox (200) leaves it running')
check(await resumed.betaPause() === true, 'betaPause pauses again')
await expectThrow('connect to a missing sandbox throws SandboxNotFoundError',
  () => Sandbox.connect('nosuchsandbox0000000'), (e) => e instanceof SandboxNotFoundError)
await expectThrow('pause of a missing sandbox throws SandboxNotFoundError',
  () => Sandbox.pause('nosuchsandbox0000000'), (e) => e instanceof SandboxNotFoundError)
check(await Sandbox.kill(pz.sandboxId) === true, 'a paused sandbox can be killed')

// Kill: true, then false (the emulator's 404 body carries code 404).
check(await sbx.kill() === true, 'kill returns true')
check(await Sandbox.kill(sbx.sandboxId) === false, 'second kill returns false')
check(await sbx.isRunning() === false, 'isRunning is false after kill (502 from the proxy)')
await expectThrow('getInfo after kill throws SandboxNotFoundError', () => sbx.getInfo(),
  (e) => e instanceof SandboxNotFoundError)
check(await other.kill() === true, 'kill the second sandbox')

// A bad key (only when the emulator was started with a fixed key: E2B_EXPECT_AUTH=1).
if (process.env.E2B_EXPECT_AUTH) {
  await expectThrow('a bad key throws AuthenticationError',
    () => Sandbox.create({ apiKey: 'e2b_wrong' }),
    (e) => e instanceof AuthenticationError)
} else {
  console.log('skip  bad key check (E2B_EXPECT_AUTH is not set)')
}

console.log(failures === 0 ? 'FIDELITY OK' : `FIDELITY FAILED: ${failures} mismatch(es)`)
process.exit(failures === 0 ? 0 : 1)
