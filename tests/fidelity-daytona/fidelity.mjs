// Drives the OFFICIAL Daytona SDK (@daytonaio/sdk) against atlas-emulator-daytona and checks
// every result. Exits non-zero on the first mismatch.
//
//   DAYTONA_API_URL=http://127.0.0.1:PORT/api DAYTONA_API_KEY=dtn_fake node fidelity.mjs
//
// DAYTONA_USE_DEPRECATED_POLLING=true makes the SDK poll sandbox state instead of opening its
// socket.io event stream (the emulator does not serve it; the SDK tolerates that either way).
import assert from 'node:assert/strict';
import {
  Daytona,
  DaytonaAuthenticationError,
  DaytonaNotFoundError,
  DaytonaTimeoutError,
} from '@daytonaio/sdk';

const apiUrl = process.env.DAYTONA_API_URL;
const apiKey = process.env.DAYTONA_API_KEY;
if (!apiUrl || !apiKey) {
  console.error('set DAYTONA_API_URL and DAYTONA_API_KEY');
  process.exit(2);
}

let step = 'setup';
const check = async (name, fn) => {
  step = name;
  const t = Date.now();
  await fn();
  console.log(`ok   ${name} (${Date.now() - t} ms)`);
};

const daytona = new Daytona({ apiKey, apiUrl, target: 'us' });
let sandbox;

try {
  await check('create waits for started', async () => {
    sandbox = await daytona.create(
      { labels: { app: 'fidelity' }, autoStopInterval: 15, networkBlockAll: true },
      { timeout: 30 },
    );
    assert.equal(sandbox.state, 'started');
    assert.ok(sandbox.id);
    assert.equal(sandbox.labels.app, 'fidelity');
    assert.equal(sandbox.networkBlockAll, true);
  });

  await check('uploadFiles (one bulk-upload), relative and absolute paths', async () => {
    await sandbox.fs.uploadFiles([
      { source: Buffer.from('name: orders\n'), destination: 'semantic/models/orders.yml' },
      { source: Buffer.from('name: shop\n'), destination: '/home/daytona/semantic/catalog.yml' },
    ]);
    await sandbox.fs.uploadFile(Buffer.from('x: "it\'s"\n'), "semantic/dir with space/it's.yml");
    const r = await sandbox.process.executeCommand('cat semantic/catalog.yml "semantic/dir with space/it\'s.yml"');
    assert.equal(r.exitCode, 0);
    assert.equal(r.result, 'name: shop\nx: "it\'s"\n');
  });

  await check('executeCommand: non-zero exit, merged output', async () => {
    const r = await sandbox.process.executeCommand(
      'cat semantic/models/orders.yml; echo to-stderr >&2; exit 2',
    );
    assert.equal(r.exitCode, 2);
    assert.equal(r.result, 'name: orders\nto-stderr\n');
    assert.equal(r.artifacts.stdout, r.result);
  });

  await check('executeCommand with cwd and env', async () => {
    const r = await sandbox.process.executeCommand('pwd; echo "$GREETING"', 'semantic/models', { GREETING: 'hello' });
    assert.equal(r.exitCode, 0);
    assert.match(r.result, /\/home\/daytona\/semantic\/models\nhello\n$/);
  });

  await check('executeCommand timeout is a 408 DaytonaTimeoutError', async () => {
    const t = Date.now();
    await assert.rejects(
      sandbox.process.executeCommand('echo partial; sleep 10', undefined, undefined, 1),
      (e) => e instanceof DaytonaTimeoutError && e.statusCode === 408,
    );
    assert.ok(Date.now() - t < 5000, 'the daemon killed it at its timeout');
  });

  await check('session: async exec, poll, split logs', async () => {
    await sandbox.process.createSession('fid');
    // Not `exit 4`: the daemon sources commands in the session's shell, where `exit` would end
    // the session itself.
    const started = await sandbox.process.executeSessionCommand('fid', {
      command: 'echo out1; echo err1 >&2; sleep 0.3; echo out2; sh -c "exit 4"',
      runAsync: true,
    });
    assert.ok(started.cmdId);
    let cmd;
    for (let i = 0; i < 100; i++) {
      cmd = await sandbox.process.getSessionCommand('fid', started.cmdId);
      if (cmd.exitCode !== undefined && cmd.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(cmd.exitCode, 4);
    const logs = await sandbox.process.getSessionCommandLogs('fid', started.cmdId);
    assert.equal(logs.stdout, 'out1\nout2\n');
    assert.equal(logs.stderr, 'err1\n');
  });

  await check('session: sync exec and state kept between commands', async () => {
    const r = await sandbox.process.executeSessionCommand('fid', { command: 'cd semantic && export X=42' });
    assert.equal(r.exitCode, 0);
    const r2 = await sandbox.process.executeSessionCommand('fid', { command: 'pwd; echo $X; echo e >&2' });
    assert.equal(r2.exitCode, 0);
    assert.match(r2.stdout, /\/semantic\n42\n$/);
    assert.equal(r2.stderr, 'e\n');
    const s = await sandbox.process.getSession('fid');
    assert.equal(s.sessionId, 'fid');
    assert.equal(s.commands.length, 3);
  });

  await check('session: partial logs of a running command, delete kills it', async () => {
    const started = await sandbox.process.executeSessionCommand('fid', {
      command: 'echo early; sleep 30',
      runAsync: true,
    });
    await new Promise((r) => setTimeout(r, 300));
    const cmd = await sandbox.process.getSessionCommand('fid', started.cmdId);
    assert.equal(cmd.exitCode, undefined);
    const logs = await sandbox.process.getSessionCommandLogs('fid', started.cmdId);
    assert.equal(logs.stdout, 'early\n');
    await sandbox.process.deleteSession('fid');
    await assert.rejects(sandbox.process.getSession('fid'), (e) => e instanceof DaytonaNotFoundError);
  });

  await check('keep-alive and auto-stop', async () => {
    await sandbox.refreshActivity();
    await sandbox.setAutostopInterval(30);
    await sandbox.refreshData();
    assert.equal(sandbox.autoStopInterval, 30);
  });

  await check('stop keeps the files and the toolbox refuses; start brings them back', async () => {
    await sandbox.process.executeCommand('echo kept > keep.txt', '/tmp');
    await sandbox.stop();
    assert.equal(sandbox.state, 'stopped');
    await assert.rejects(sandbox.process.executeCommand('cat keep.txt', '/tmp'), (e) => e.statusCode === 503);
    await sandbox.start();
    assert.equal(sandbox.state, 'started');
    const r = await sandbox.process.executeCommand('cat keep.txt', '/tmp');
    assert.equal(r.result, 'kept\n');
    // Starting a started sandbox answers it as it is.
    await sandbox.start();
    assert.equal(sandbox.state, 'started');
  });

  await check('auto-archive and auto-delete intervals', async () => {
    await sandbox.setAutoArchiveInterval(60);
    await sandbox.setAutoDeleteInterval(120);
    await sandbox.refreshData();
    assert.equal(sandbox.autoArchiveInterval, 60);
    assert.equal(sandbox.autoDeleteInterval, 120);
  });

  await check('the auto-stop timer stops an idle sandbox, the auto-delete timer deletes it', async () => {
    // The emulator runs with a one-second minute (EMULATED_MINUTE_MS).
    const sb = await daytona.create(
      { labels: { app: 'timers' }, autoStopInterval: 1, autoDeleteInterval: 2 },
      { timeout: 30 },
    );
    await sb.process.executeCommand('echo kept > keep.txt', '/tmp');
    await sb.waitUntilStopped(20);
    assert.equal(sb.state, 'stopped');
    await sb.start();
    assert.equal((await sb.process.executeCommand('cat keep.txt', '/tmp')).result, 'kept\n');
    await sb.stop();
    const deadline = Date.now() + 20000;
    for (;;) {
      try {
        await daytona.get(sb.id);
      } catch (e) {
        assert.ok(e instanceof DaytonaNotFoundError, String(e));
        break;
      }
      assert.ok(Date.now() < deadline, 'auto-delete did not fire');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  await check('list by label', async () => {
    const ids = [];
    for await (const s of daytona.list({ labels: { app: 'fidelity' } })) ids.push(s.id);
    assert.deepEqual(ids, [sandbox.id]);
    const none = [];
    for await (const s of daytona.list({ labels: { app: 'other' } })) none.push(s.id);
    assert.deepEqual(none, []);
  });

  await check('delete (kill), then get is DaytonaNotFoundError', async () => {
    await sandbox.delete();
    await assert.rejects(daytona.get(sandbox.id), (e) => e instanceof DaytonaNotFoundError && e.statusCode === 404);
    sandbox = undefined;
  });

  await check('without polling mode the missing socket.io stream is tolerated', async () => {
    const events = new Daytona({ apiKey, apiUrl, target: 'us', useDeprecatedPolling: false });
    const sb = await events.create({ labels: { app: 'events' } }, { timeout: 30 });
    assert.equal(sb.state, 'started');
    const r = await sb.process.executeCommand('echo hi');
    assert.equal(r.result, 'hi\n');
    await sb.delete();
  });

  await check('a wrong key is DaytonaAuthenticationError', async () => {
    const bad = new Daytona({ apiKey: 'dtn_wrong', apiUrl, target: 'us' });
    await assert.rejects(bad.create({}, { timeout: 10 }), (e) => e instanceof DaytonaAuthenticationError);
  });

  console.log('fidelity: all checks passed');
  process.exit(0);
} catch (e) {
  console.error(`FAILED at "${step}":`, e);
  if (sandbox) await sandbox.delete().catch(() => {});
  process.exit(1);
}
