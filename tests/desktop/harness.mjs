// The desktop app under test: the real Tauri window (Xvfb), driven through tauri-driver and
// WebKitWebDriver with WebdriverIO. One tauri-driver per app, started with that test's environment
// (its own data dir, database, workspace and XDG folders), so tests never share state.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { remote } from 'webdriverio';
import { makeEnv, root } from '../e2e/harness.mjs';

export { cli, demo } from '../e2e/harness.mjs';

export const desktopBin = process.env.REVIEWDESK_DESKTOP_BIN ?? join(root, 'target/debug/reviewdesk-desktop');
const TAURI_DRIVER = process.env.TAURI_DRIVER ?? 'tauri-driver';

/** A fresh environment for the desktop app (adds XDG folders for window state and settings). */
export function desktopEnv(label) {
  const e = makeEnv(label);
  for (const d of ['xdg-config', 'xdg-data', 'xdg-cache']) mkdirSync(join(e.dir, d), { recursive: true });
  Object.assign(e.env, {
    XDG_CONFIG_HOME: join(e.dir, 'xdg-config'),
    XDG_DATA_HOME: join(e.dir, 'xdg-data'),
    XDG_CACHE_HOME: join(e.dir, 'xdg-cache'),
  });
  return e;
}

export function preflight() {
  if (!existsSync(desktopBin)) {
    throw new Error(`${desktopBin} is missing: run \`npm --prefix ui run build && cargo build -p reviewdesk-desktop\``);
  }
  if (!process.env.DISPLAY) throw new Error('no DISPLAY: run under xvfb-run (npm test does)');
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) throw new Error('no D-Bus session: run under dbus-run-session (npm test does)');
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port (polls a condition, with a deadline). */
async function waitForPort(port, child, deadlineMs = 30_000) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tauri-driver exited (${child.exitCode})`);
    const ok = await new Promise((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.end(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`tauri-driver did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts the desktop app in `env` and returns the WebdriverIO browser plus a `close()`.
 * The window runs the built ui/ with the Tauri transport; the runtime (worker included) runs in it.
 */
export async function launch(env, bin = desktopBin) {
  preflight();
  await waitAppGone(undefined, bin);
  const port = await freePort();
  // Its own WebKitWebDriver port too: the default (4445) is shared, and a previous test's driver
  // may still be shutting down.
  const nativePort = await freePort();
  const driver = spawn(TAURI_DRIVER, ['--port', String(port), '--native-port', String(nativePort)], {
    env: env.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  driver.stdout.on('data', (d) => (log += d));
  driver.stderr.on('data', (d) => (log += d));
  // tauri-driver listens before its WebKitWebDriver does; a session request in between fails.
  await waitForPort(port, driver);
  await waitForPort(nativePort, driver);
  let app;
  try {
    app = await remote({
      hostname: '127.0.0.1',
      port,
      logLevel: 'error',
      connectionRetryCount: 0,
      capabilities: { 'tauri:options': { application: bin } },
    });
  } catch (e) {
    driver.kill('SIGTERM');
    throw new Error(`cannot start the desktop app: ${e.message}\n${log}`);
  }
  return {
    app,
    log: () => log,
    async close() {
      try {
        await app.deleteSession();
      } catch {
        // the app may already be gone
      }
      // SIGTERM (not SIGKILL) so tauri-driver stops its WebKitWebDriver child too.
      if (driver.exitCode === null) {
        driver.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => (driver.kill('SIGKILL'), r()), 5000);
          driver.once('exit', () => (clearTimeout(t), r()));
        });
      }
      // WebKitWebDriver ends a session by closing the window, and closing the window only hides
      // Review Desk to the tray (by design), so the process may still be up: stop it.
      for (const pid of appPidsOf(env, bin)) {
        try {
          process.kill(Number(pid), 'SIGTERM');
        } catch {
          // already gone
        }
      }
      await waitAppGone(undefined, bin);
    },
  };
}

/** PIDs of running copies of the app under test. */
export function appPids(bin = desktopBin) {
  // By executable, not by command line: a shell whose command merely mentions the path is not the app.
  let want;
  try {
    want = realpathSync(bin);
  } catch {
    return [];
  }
  return readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      // A rebuilt binary shows as "<path> (deleted)" for copies still running.
      return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '') === want;
    } catch {
      return false;
    }
  });
}

/**
 * The pid of the app that `launch(env)` started: the running copy whose environment names this
 * env's data dir (another engineer's run on its own display may be running the same binary).
 */
/** Running copies of the app started in `env` (recognised by its data folder). */
export function appPidsOf(env, bin = desktopBin) {
  const mark = `REVIEWDESK_DATA_DIR=${env.env.REVIEWDESK_DATA_DIR}`;
  return appPids(bin).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(mark);
    } catch {
      return false; // gone, or not ours to read
    }
  });
}

export function appPid(env, bin = desktopBin) {
  const mine = appPidsOf(env, bin);
  if (mine.length !== 1) throw new Error(`expected one running app for ${env.dir}, found ${mine.length}`);
  return Number(mine[0]);
}

/**
 * The app is single-instance: a copy still shutting down would make the next test's launch hand
 * over to it and exit. Wait (on the condition, with a deadline) until no copy is left.
 */
async function waitAppGone(deadlineMs = 15_000, bin = desktopBin) {
  const until = Date.now() + deadlineMs;
  while (appPids(bin).length) {
    if (Date.now() > until) {
      for (const pid of appPids(bin)) process.kill(Number(pid), 'SIGTERM');
      throw new Error('the desktop app did not exit after its WebDriver session ended');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the gallery of `id` has rendered (the UI sets body[data-gallery-ready]). */
export async function waitGallery(app, id) {
  await app.waitUntil(async () => (await app.execute(() => document.body.dataset.galleryReady)) === id, {
    timeout: 30_000,
    timeoutMsg: `gallery of ${id} did not open`,
  });
}

/**
 * The status the window shows for task `id` (its header in the gallery, or its card on the board,
 * where the UI returns after a decision) once it differs from `not`.
 */
export async function waitStatusChange(app, id, not) {
  let s;
  await app.waitUntil(
    async () => {
      s = await app.execute(
        (tid) =>
          (document.querySelector('[data-testid=task-status]') ??
            document.querySelector(`[data-testid=card][data-task-id="${tid}"]`))?.getAttribute('data-status'),
        id,
      );
      return s && s !== not;
    },
    { timeout: 30_000, timeoutMsg: `the window kept showing ${not}` },
  );
  return s;
}

// ---- /proc: the app's processes (the benchmark's measurements, a test's memory-map check) ----

/** Fields of /proc/<pid>/stat (or a thread's), numbered as in proc(5); null once the task is gone. */
export function procStat(path) {
  let s;
  try {
    s = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const close = s.lastIndexOf(')');
  const f = s.slice(close + 2).trim().split(' '); // f[0] is field 3 (state)
  const n = (k) => Number(f[k - 3]);
  return { comm: s.slice(s.indexOf('(') + 1, close), state: f[0], ppid: n(4), ticks: n(14) + n(15), start: n(22) };
}

/** The app and every process below it (WebKitWebProcess, WebKitNetworkProcess, …). */
export function processTree(pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(`/proc/${d}/stat`);
    if (!s) continue;
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(Number(d));
  }
  const out = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.shift();
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** The program's name (comm is cut at 15 characters). */
export function processName(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0].split('/').at(-1) || '?';
  } catch {
    return procStat(`/proc/${pid}/stat`)?.comm ?? '?';
  }
}
