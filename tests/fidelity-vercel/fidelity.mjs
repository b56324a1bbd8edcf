// Drives the OFFICIAL @vercel/sandbox SDK against atlas-emulator-vercel. If the SDK cannot talk
// to the emulator, or gets answers a real Vercel would not give, the emulator is wrong.
//
// The SDK has no base-URL option: its public `fetch` option is the only hook, so a fetch that
// rewrites https://vercel.com/api to the emulator is injected (reference/cloud.md section 6),
// dropping the SDK's undici dispatcher before calling the global fetch.
//
// Usage: VERCEL_EMULATOR_URL=http://127.0.0.1:PORT node fidelity.mjs   (exit 0 = all passed)

import { Sandbox, APIError } from "@vercel/sandbox";

const EMU = process.env.VERCEL_EMULATOR_URL;
if (!EMU) {
  console.error("set VERCEL_EMULATOR_URL to the emulator's base URL");
  process.exit(2);
}
process.env.VERCEL_SANDBOX_TELEMETRY_DISABLED = "1";

const seen = [];
const seenUrls = [];
const fetch = (url, { dispatcher, ...opts } = {}) => {
  const target = String(url).replace("https://vercel.com/api", EMU);
  seen.push(`${opts.method ?? "GET"} ${new URL(target).pathname}`);
  seenUrls.push(`${opts.method ?? "GET"} ${new URL(target).pathname}${new URL(target).search}`);
  return globalThis.fetch(target, opts);
};
// A non-JWT token: a three-part JWT would send the SDK down its OIDC refresh path.
const creds = { token: "vercel_fake_token", teamId: "team_emu", projectId: "prj_emu", fetch };

let failures = 0;
function check(what, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${ok ? "" : `: ${detail}`}`);
  if (!ok) failures++;
}
async function rejects(what, fn, test) {
  try {
    await fn();
    check(what, false, "no error");
  } catch (e) {
    check(what, test(e), `${e?.constructor?.name}: ${e?.message}`);
  }
}

process.on("uncaughtException", (e) => {
  console.error(`FAIL unexpected error: ${e?.constructor?.name}: ${e?.message}`);
  process.exit(1);
});
process.on("unhandledRejection", (e) => {
  console.error(`FAIL unexpected rejection: ${e?.constructor?.name}: ${e?.message}`);
  process.exit(1);
});

// The SDK refuses a token without team and project (Atlas's access-token mode sent two of three).
await rejects(
  "SDK refuses a partial credential triple",
  () => Sandbox.create({ token: "t", teamId: "team_emu", fetch }),
  (e) => /projectId/.test(e.message),
);

// Create with a runtime (the SDK posts to /v2/sandboxes) and atlas-style settings.
const sandbox = await Sandbox.create({
  ...creds,
  runtime: "node24",
  timeout: 120_000,
  persistent: false,
  networkPolicy: "deny-all",
  resources: { vcpus: 2 },
  tags: { "atlas-sandbox": "true", fidelity: "yes" },
});
check("create (v2, runtime) returns a running session", sandbox.status === "running", sandbox.status);
check("create posted to /v2/sandboxes", seen.includes("POST /v2/sandboxes"), seen.join(", "));
check("session cwd is /vercel/sandbox", sandbox.currentSession().cwd === "/vercel/sandbox");
check("tags round-trip", sandbox.tags?.fidelity === "yes", JSON.stringify(sandbox.tags));

// Files: mkDir (not recursive) then one tar.gz through writeFiles, relative to the session cwd.
await sandbox.mkDir("semantic");
await sandbox.writeFiles([
  { path: "semantic/models/orders.yml", content: Buffer.from("name: orders\n") },
  { path: "semantic/catalog.yml", content: Buffer.from("tables: [orders]\n") },
]);
const back = await sandbox.readFileToBuffer({ path: "semantic/models/orders.yml" });
check("writeFiles then readFileToBuffer", back?.toString() === "name: orders\n", String(back));
const missing = await sandbox.readFileToBuffer({ path: "semantic/nope.yml" });
check("reading a missing file gives null (404)", missing === null, String(missing));

// A non-zero exit keeps its code, stdout and stderr (wait + logs ndjson stream).
const r = await sandbox.runCommand({
  cmd: "sh",
  args: ["-c", "cat models/orders.yml; echo to-stderr >&2; exit 3"],
  cwd: "/vercel/sandbox/semantic",
});
check("non-zero exit code", r.exitCode === 3, r.exitCode);
check("stdout", (await r.stdout()) === "name: orders\n", await r.stdout());
check("stderr", (await r.stderr()) === "to-stderr\n", await r.stderr());

const ls = await sandbox.runCommand("ls", ["semantic/models"]);
check("argv command (ls)", ls.exitCode === 0 && (await ls.stdout()) === "orders.yml\n", await ls.stdout());

// A per-command timeout: the sandbox SIGKILLs the command.
const t0 = Date.now();
const slow = await sandbox.runCommand({ cmd: "sleep", args: ["10"], timeoutMs: 500 });
const took = Date.now() - t0;
check("timeout kills the command (SIGKILL, 137)", slow.exitCode === 137, slow.exitCode);
check("timeout is enforced promptly", took < 5000, `${took} ms`);

// Detached: start, wait (GET ?wait=true), then logs (ndjson).
const bg = await sandbox.runCommand({ cmd: "sh", args: ["-c", "sleep 0.2; echo done; echo e >&2"], detached: true });
check("detached command starts without an exit code", bg.exitCode === null, bg.exitCode);
const fin = await bg.wait();
check("detached wait gives the exit code", fin.exitCode === 0, fin.exitCode);
check("detached stdout from logs", (await fin.stdout()) === "done\n", await fin.stdout());
check("detached stderr from logs", (await fin.stderr()) === "e\n", await fin.stderr());

// Logs stream while the command runs: it waits for a file that is written only after its first
// log line arrived, so an emulator that held the logs until the end would never finish it.
const live = await sandbox.runCommand({
  cmd: "sh",
  args: ["-c", "echo early; while [ ! -e go ]; do sleep 0.05; done; echo late"],
  cwd: "/vercel/sandbox/semantic",
  detached: true,
  timeoutMs: 10_000,
});
let liveOut = "";
for await (const log of live.logs()) {
  if (log.stream !== "stdout") continue;
  if (liveOut === "" && log.data.includes("early")) {
    await sandbox.writeFiles([{ path: "semantic/go", content: Buffer.from("") }]);
  }
  liveOut += log.data;
}
const liveDone = await live.wait();
check("logs() streams while the command runs", liveDone.exitCode === 0 && liveOut === "early\nlate\n", `${liveDone.exitCode} ${JSON.stringify(liveOut)}`);

// Kill a running command.
const long = await sandbox.runCommand({ cmd: "sleep", args: ["30"], detached: true });
await long.kill("SIGTERM");
const killed = await long.wait();
check("kill (SIGTERM) ends the command with 143", killed.exitCode === 143, killed.exitCode);

// Keep-alive.
await sandbox.extendTimeout(60_000);
check("extendTimeout adds to the session timeout", sandbox.currentSession().timeout === 180_000, sandbox.currentSession().timeout);

// List by tag (what sweep uses).
const listed = await Sandbox.list({ ...creds, tags: { fidelity: "yes" } });
check("list by tag finds the sandbox", listed.sandboxes.some((s) => s.name === sandbox.name), JSON.stringify(listed.sandboxes.map((s) => s.name)));

// Stop, then delete; the sandbox is gone (404 through APIError).
const stopped = await sandbox.stop();
check("stop reports the session stopped", stopped.status === "stopped", stopped.status);
await sandbox.delete();
await rejects(
  "get after delete is a 404 APIError",
  () => Sandbox.get({ ...creds, name: sandbox.name }),
  (e) => e instanceof APIError && e.response.status === 404,
);

// The v3 endpoint (no runtime), and the SDK's error surfacing of a vendor error body.
const v3 = await Sandbox.create({ ...creds, timeout: 60_000, persistent: false });
check("create without runtime posted to /v3/sandboxes", seen.includes("POST /v3/sandboxes"));
await rejects(
  "a bad cwd is an APIError carrying the vendor message",
  () => v3.runCommand({ cmd: "true", cwd: "/does/not/exist" }),
  (e) => e instanceof APIError && e.response.status === 400 && /does not exist/.test(e.message),
);
await v3.stop();
await v3.delete();

// A persistent sandbox: stop snapshots its files; the next command resumes it by name
// (`GET /v2/sandboxes/{name}?resume=true`) with the files restored; the snapshot expiry and
// retention travel with the create.
const keep = await Sandbox.create({
  ...creds,
  name: "fidelity-persistent",
  timeout: 120_000,
  persistent: true,
  snapshotExpiration: 3_600_000,
  keepLastSnapshots: { count: 1 },
});
check("persistent create is persistent", keep.persistent === true, keep.persistent);
check("snapshotExpiration round-trips", keep.snapshotExpiration === 3_600_000, keep.snapshotExpiration);
check("keepLastSnapshots round-trips", keep.keepLastSnapshots?.count === 1, JSON.stringify(keep.keepLastSnapshots));
await keep.writeFiles([{ path: "/tmp/keep.txt", content: Buffer.from("kept\n") }]);
const firstSession = keep.currentSession().sessionId;
const keepStopped = await keep.stop();
check("stopping a persistent sandbox stops its session", keepStopped.status === "stopped", keepStopped.status);
const paused = await Sandbox.get({ ...creds, name: "fidelity-persistent" });
check("a paused sandbox reports stopped", paused.status === "stopped", paused.status);
check("a paused sandbox has a snapshot", typeof paused.currentSnapshotId === "string", paused.currentSnapshotId);
await rejects(
  "the stopped session refuses commands (410 sandbox_stopped)",
  () => paused.currentSession().runCommand({ cmd: "cat", args: ["keep.txt"], cwd: "/tmp" }),
  (e) => e instanceof APIError && e.response.status === 410,
);
let resumedHook = 0;
const resumed = await Sandbox.get({ ...creds, name: "fidelity-persistent", resume: true, onResume: async () => { resumedHook += 1; } });
check("get with resume starts a new session", typeof firstSession === "string" && resumed.currentSession().sessionId !== firstSession && resumed.status === "running", `${resumed.currentSession().sessionId} ${firstSession} ${resumed.status}`);
check("onResume fires once for a resumed sandbox", resumedHook === 1, resumedHook);
check("get with resume sent resume=true", seenUrls.some((r) => r.startsWith("GET /v2/sandboxes/fidelity-persistent") && r.includes("resume=true")), seenUrls.filter((r) => r.includes("fidelity-persistent")).join(", "));
const kept = await resumed.runCommand({ cmd: "cat", args: ["keep.txt"], cwd: "/tmp" });
check("the resumed session has the files", (await kept.stdout()) === "kept\n", await kept.stdout());
// The SDK resumes by itself on a stopped session (withResume), as our client does.
await resumed.stop();
const auto = await resumed.runCommand({ cmd: "cat", args: ["keep.txt"], cwd: "/tmp" });
check("a command on a stopped persistent sandbox auto-resumes it", (await auto.stdout()) === "kept\n", await auto.stdout());
await resumed.stop();
await resumed.delete();

console.log(`${failures === 0 ? "PASS" : "FAIL"}: ${failures} failure(s); ${seen.length} requests`);
process.exit(failures === 0 ? 0 : 1);
