// Benchmark of the desktop app: the real Tauri window under Xvfb, launched through tauri-driver.
//   start-up: process start → the board painted with its cards (the UI's 'board-painted' mark)
//   memory:   resident memory of the app + its WebKit processes, the board shown (settled 3 s)
//   idle CPU: app + WebKit processes over 60 s with the window closed (hidden: the app stays in
//             the tray), from /proc utime+stime, after 30 s of settling (printed apart), the app
//             launched without WebDriver (the figure under WebDriver is printed too); the goal is
//             ≤ 0.1% of one core and ≤ 5 wake-ups per second
// The board holds 100 tasks (5 demo tasks at Assets Ready, the rest drafts, so the in-app worker has
// nothing to do); the baseline, measured in the same run, is the same app on an empty board. A
// third desk holds the same 100 and 4,900 finished tasks of years past (a desk with years of work):
// its start-up and memory are compared with the 100-task desk's.
//   npm run bench [-- --runs 5] [--tasks 100] [--large 5000] [--idle-secs 60]
// (npm run bench wraps xvfb-run and dbus-run-session; REVIEWDESK_DESKTOP_BIN picks another build.)
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { root } from '../e2e/harness.mjs';

// The app runs from a private copy of the binary: the harness finds running copies by path, so
// another run of the desktop tests on this machine (same binary) cannot be mistaken for ours, and
// a rebuild during the benchmark cannot change what is measured.
const measured = process.env.REVIEWDESK_DESKTOP_BIN ?? join(root, 'target/debug/reviewdesk-desktop');
const binDir = mkdtempSync(join(tmpdir(), 'reviewdesk-bench-bin-'));
process.on('exit', () => rmSync(binDir, { recursive: true, force: true }));
try {
  copyFileSync(measured, join(binDir, 'reviewdesk-desktop'));
} catch (e) {
  throw new Error(`${measured} is missing: run \`make desktop\` (${e.message})`);
}
process.env.REVIEWDESK_DESKTOP_BIN = join(binDir, 'reviewdesk-desktop');
const {
  appPid,
  cli,
  demo,
  desktopEnv,
  launch,
  procStat: stat,
  processTree: tree,
  processName: name,
} = await import('./harness.mjs');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} wants a whole number`);
  return n;
}
const RUNS = Math.max(1, option('runs', 5));
const TASKS = option('tasks', 100);
const IDLE_SECS = Math.max(1, option('idle-secs', 60));
const HIDING_SECS = 30; // after the hide, before the idle measurement (see idle())
const DEMOS = Math.min(5, TASKS);
const SETTLE_MS = 3000;
const IDLE_GOAL = 0.1; // % of one core
const WAKEUP_GOAL = 5; // per second, app + WebKit
// A desk with years of work: 5,000 tasks, memory within 10% of the 100-task figure.
const LARGE = Math.max(TASKS, option('large', 5000));
const LARGE_MEMORY_GOAL = 1.1;
const MEMORY_GOAL = 250 * 2 ** 20; // PSS, app + WebKit, 100 tasks, release build
const STARTUP_GOAL = 400; // ms to a painted board, 100 tasks, release build

const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

// ---- /proc ----------------------------------------------------------------------------------

function kb(path, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(path, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** RSS (VmRSS) and PSS (smaps_rollup: shared pages split between the processes) of each process. */
function memory(pid) {
  return tree(pid)
    .map((p) => ({
      pid: p,
      comm: name(p),
      rss: kb(`/proc/${p}/status`, 'VmRSS'),
      pss: kb(`/proc/${p}/smaps_rollup`, 'Pss'),
    }))
    .filter((m) => !Number.isNaN(m.rss));
}

/**
 * CPU ticks of every process in the tree (a process's count includes its threads that have ended),
 * and of every thread with its context switches (wakeups), for the breakdown.
 */
function cpuSnapshot(pid) {
  const procs = new Map();
  const threads = new Map();
  for (const p of tree(pid)) {
    const ps = stat(`/proc/${p}/stat`);
    if (!ps) continue;
    const comm = name(p);
    procs.set(p, { proc: comm, ticks: ps.ticks });
    let tids = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const s = stat(`/proc/${p}/task/${tid}/stat`);
      if (!s) continue;
      let switches = 0;
      try {
        const st = readFileSync(`/proc/${p}/task/${tid}/status`, 'utf8');
        for (const m of st.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) switches += Number(m[1]);
      } catch {
        // gone
      }
      threads.set(`${p}/${tid}`, { pid: p, proc: comm, thread: s.comm, ticks: s.ticks, switches });
    }
  }
  return { at: performance.now(), procs, threads };
}

/** Epoch ms at which `pid` started (/proc start time is in clock ticks since boot: ±10 ms). */
function startedAt(pid) {
  const s = stat(`/proc/${pid}/stat`);
  // CLOCK_MONOTONIC (hrtime) matches the boot clock here unless the machine was suspended; check.
  const bootByHr = Date.now() - Number(process.hrtime.bigint() / 1000n) / 1000;
  const bootByUptime = Date.now() - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  const boot = Math.abs(bootByHr - bootByUptime) < 50 ? bootByHr : bootByUptime;
  return boot + (s.start / TICK) * 1000;
}

// ---- the window ---------------------------------------------------------------------------

// Closes the main window as the creator would: the WM_DELETE_WINDOW client message a window manager
// sends for the close button (Xvfb runs none). The app hides the window and stays in the tray.
// (WebDriver's closeWindow would end the session, and the app with it.) Python's ctypes and libX11
// only, both already there (libX11 is WebKitGTK's); it prints the window id once it is unmapped.
const CLOSE_PY = `import ctypes as C, sys, time
x = C.cdll.LoadLibrary('libX11.so.6')
Display, Window, Atom = C.c_void_p, C.c_ulong, C.c_ulong
x.XOpenDisplay.restype = Display
x.XOpenDisplay.argtypes = [C.c_char_p]
x.XDefaultRootWindow.restype = Window
x.XDefaultRootWindow.argtypes = [Display]
x.XInternAtom.restype = Atom
x.XInternAtom.argtypes = [Display, C.c_char_p, C.c_int]
x.XQueryTree.argtypes = [Display, Window, C.POINTER(Window), C.POINTER(Window), C.POINTER(C.POINTER(Window)), C.POINTER(C.c_uint)]
x.XFetchName.argtypes = [Display, Window, C.POINTER(C.c_char_p)]
x.XGetWindowProperty.argtypes = [Display, Window, Atom, C.c_long, C.c_long, C.c_int, Atom, C.POINTER(Atom),
                                 C.POINTER(C.c_int), C.POINTER(C.c_ulong), C.POINTER(C.c_ulong), C.POINTER(C.c_void_p)]
x.XSendEvent.argtypes = [Display, Window, C.c_int, C.c_long, C.c_void_p]
x.XFree.argtypes = [C.c_void_p]
x.XFlush.argtypes = [Display]
class Attrs(C.Structure):
    _fields_ = [('x', C.c_int), ('y', C.c_int), ('width', C.c_int), ('height', C.c_int), ('border_width', C.c_int),
                ('depth', C.c_int), ('visual', C.c_void_p), ('root', Window), ('cls', C.c_int), ('bit_gravity', C.c_int),
                ('win_gravity', C.c_int), ('backing_store', C.c_int), ('backing_planes', C.c_ulong),
                ('backing_pixel', C.c_ulong), ('save_under', C.c_int), ('colormap', C.c_ulong), ('map_installed', C.c_int),
                ('map_state', C.c_int), ('all_event_masks', C.c_long), ('your_event_mask', C.c_long),
                ('do_not_propagate_mask', C.c_long), ('override_redirect', C.c_int), ('screen', C.c_void_p)]
x.XGetWindowAttributes.argtypes = [Display, Window, C.POINTER(Attrs)]
class ClientMessage(C.Structure):
    _fields_ = [('type', C.c_int), ('serial', C.c_ulong), ('send_event', C.c_int), ('display', Display),
                ('window', Window), ('message_type', Atom), ('format', C.c_int), ('l', C.c_long * 5), ('pad', C.c_long * 12)]
ERR = C.CFUNCTYPE(C.c_int, Display, C.c_void_p)(lambda d, e: 0)  # a window may vanish meanwhile
x.XSetErrorHandler(ERR)

d = x.XOpenDisplay(None)
if not d: sys.exit('cannot open the display')
pid, title = int(sys.argv[1]), sys.argv[2].encode()
NET_WM_PID = x.XInternAtom(d, b'_NET_WM_PID', 0)

def map_state(w):
    a = Attrs()
    return a.map_state if x.XGetWindowAttributes(d, w, C.byref(a)) else -1

def owner(w):
    t, f, n, after, p = Atom(), C.c_int(), C.c_ulong(), C.c_ulong(), C.c_void_p()
    if x.XGetWindowProperty(d, w, NET_WM_PID, 0, 1, 0, 6, C.byref(t), C.byref(f), C.byref(n), C.byref(after), C.byref(p)) != 0 or not p.value:
        return None
    v = C.cast(p, C.POINTER(C.c_long))[0] if n.value else None
    x.XFree(p)
    return v

def windows(w):
    root, parent, kids, n = Window(), Window(), C.POINTER(Window)(), C.c_uint()
    if not x.XQueryTree(d, w, C.byref(root), C.byref(parent), C.byref(kids), C.byref(n)): return
    ks = [kids[i] for i in range(n.value)]
    if kids: x.XFree(kids)
    for k in ks:
        yield k
        yield from windows(k)

def named(w):
    s = C.c_char_p()
    if not x.XFetchName(d, w, C.byref(s)): return False
    ok = s.value == title
    x.XFree(s)
    return ok

main = [w for w in windows(x.XDefaultRootWindow(d)) if named(w) and owner(w) in (None, pid) and map_state(w) == 2]
if len(main) != 1: sys.exit(f'expected one shown window "{title.decode()}" of pid {pid}, found {len(main)}')
w = main[0]
ev = ClientMessage(type=33, window=w, message_type=x.XInternAtom(d, b'WM_PROTOCOLS', 0), format=32)
ev.l[0] = x.XInternAtom(d, b'WM_DELETE_WINDOW', 0)
x.XSendEvent(d, w, 0, 0, C.byref(ev))
x.XFlush(d)
until = time.time() + 10
while map_state(w) == 2:
    if time.time() > until: sys.exit('the window is still shown 10 s after it was closed')
    time.sleep(0.05)
print(hex(w))
`;

async function closeMainWindow(pid) {
  const r = spawnSync('python3', ['-c', CLOSE_PY, String(pid), 'Review Desk'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`cannot close the main window: ${r.stderr || r.error?.message}`);
  if (!alive(pid)) throw new Error('closing the window ended the app (it should stay in the tray)');
}

// ---- one launch ---------------------------------------------------------------------------

async function boardPainted(app) {
  let r;
  await app.waitUntil(
    async () =>
      (r = await app.execute(() => {
        const m = performance.getEntriesByName('board-painted', 'mark')[0];
        // The first paint holds the cards the window shows; the cards are counted once all are in.
        const complete = performance.getEntriesByName('board-complete', 'mark')[0];
        const all = document.querySelector('[data-view=all] .count');
        const mark = (name) => performance.getEntriesByName(name, 'mark')[0]?.startTime ?? NaN;
        return m && complete && { origin: performance.timeOrigin, at: m.startTime, complete: complete.startTime, script: mark('app-start'), data: mark('board-data'), cards: document.querySelectorAll('[data-testid=card]').length, total: Number(all?.textContent ?? 0) };
      })),
    { timeout: 60_000, interval: 50, timeoutMsg: "no 'board-painted' and 'board-complete' marks (is ui/dist current? make desktop)" },
  );
  return r;
}

/**
 * launch(), again when the session could not be created: tauri-driver answers as soon as its own
 * port is open, and on a busy machine its WebKitWebDriver may not listen yet ("tcp connect error").
 * The app never started then, so no figure is lost or skewed.
 */
async function launchApp(env) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(env);
    } catch (e) {
      if (attempt >= 3 || !/cannot start the desktop app/.test(e.message)) throw e;
      console.log(`  (launch ${attempt} failed: ${e.message.split('\n')[0]}; again)`);
      await sleep(500);
    }
  }
}

/** Starts the app in `env`, measures start-up and memory; runs `then(d, pid)` before closing. */
async function run(env, tasks, then) {
  const d = await launchApp(env);
  try {
    const pid = appPid(env);
    const started = startedAt(pid);
    const p = await boardPainted(d.app);
    // A desk with years of work shows every unfinished task and the latest finished ones, and
    // counts every task.
    if (tasks <= TASKS ? p.cards !== tasks : p.total !== tasks) {
      throw new Error(`the board shows ${p.cards} cards (${p.total} counted), expected ${tasks}`);
    }
    await sleep(SETTLE_MS);
    const result = {
      paint: p.origin + p.at - started, // process start → board painted
      native: p.origin - started, // process start → the page starts loading (runtime, GTK, WebKit)
      ui: p.at, // page load → board painted (UI, first fetch of the tasks, render)
      script: p.script, // page load → the UI's script runs
      data: p.data - p.script, // → the board's first read answered
      render: p.at - p.data, // → the board drawn and painted (the cards the window shows)
      rest: p.complete - p.at, // → the rest of long columns drawn
      mem: memory(pid),
    };
    if (then) result.then = await then(d, pid);
    await endSession(d, pid);
    return result;
  } finally {
    await d.close();
  }
}

const alive = (pid) => !/^[ZX]?$/.test(stat(`/proc/${pid}/stat`)?.state ?? '');

/**
 * Ends the WebDriver session (which closes the app) and waits for the app to exit, up to 60 s, so
 * that a slow exit on a busy machine is reported with what the app was doing rather than ending
 * the benchmark (the harness's close() allows 15 s, then fails).
 */
async function endSession(d, pid) {
  const t = Date.now();
  let err = null;
  try {
    await d.app.deleteSession();
  } catch (e) {
    err = e;
  }
  let dumped = false;
  while (alive(pid) && Date.now() - t < 60_000) {
    if (!dumped && Date.now() - t > 10_000) {
      dumped = true;
      let tids = [];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        // it has just exited
      }
      const threads = tids.map((tid) => {
        const s = stat(`/proc/${pid}/task/${tid}/stat`);
        let wchan = '';
        try {
          wchan = readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8');
        } catch {
          // not readable
        }
        return `${s?.comm}:${s?.state}:${wchan}`;
      });
      console.log(
        `  (the app is still running 10 s after its session ended${err ? ` (deleteSession: ${err.message.split('\n')[0]})` : ''}; ` +
          `parent ${stat(`/proc/${pid}/stat`)?.ppid} (${name(stat(`/proc/${pid}/stat`)?.ppid)}); threads ${threads.join(' ')})`,
      );
    }
    await sleep(50);
  }
  const took = Date.now() - t;
  if (took > 5000) console.log(`  (the app took ${(took / 1000).toFixed(1)} s to exit after its session ended)`);
}

/** CPU and wake-ups of app + WebKit processes between two snapshots. */
function between(a, b) {
  const secs = (b.at - a.at) / 1000;
  const threads = [...b.threads].map(([k, t]) => {
    const was = a.threads.get(k);
    return { ...t, dTicks: t.ticks - (was?.ticks ?? 0), wakeups: (t.switches - (was?.switches ?? 0)) / secs };
  });
  const procs = [...b.procs].map(([p, x]) => ({ pid: p, ...x, dTicks: x.ticks - (a.procs.get(p)?.ticks ?? 0) }));
  const gone = [...a.procs.keys()].filter((p) => !b.procs.has(p)).map((p) => a.procs.get(p).proc);
  return { secs, procs, threads, gone };
}

/**
 * Idle CPU with the window closed. The first HIDING_SECS after the hide are the app settling (its
 * idle polls backing off to their 30 s ceiling, idle worker threads ending, WebKit dropping what the
 * hidden page drew): reported apart. The goal is checked on the IDLE_SECS after that, the app at rest.
 */
async function idle(d, pid) {
  await closeMainWindow(pid);
  return settledIdle(pid);
}

async function settledIdle(pid) {
  const a = cpuSnapshot(pid);
  await sleep(HIDING_SECS * 1000);
  const b = cpuSnapshot(pid);
  await sleep(IDLE_SECS * 1000);
  const c = cpuSnapshot(pid);
  return { pid, hiding: between(a, b), ...between(b, c), mem: memory(pid) };
}

/**
 * Idle as the creator's machine has it: the app launched directly, without the WebDriver session
 * the other measurements drive it through (WebKit's automation keeps the app and the web process
 * busier), its window closed as soon as it is shown.
 */
async function plainIdle(env) {
  const child = spawn(process.env.REVIEWDESK_DESKTOP_BIN, [], { env: env.env, stdio: 'ignore' });
  try {
    // Closed once shown: closing fails while the window is not there yet.
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        await closeMainWindow(child.pid);
        break;
      } catch (e) {
        if (Date.now() > until || child.exitCode !== null) throw new Error(`the app's window never showed: ${e.message}`);
      }
      await sleep(200);
    }
    // Awaited here, not returned as a promise: the finally below ends the app.
    return await settledIdle(child.pid);
  } finally {
    child.kill('SIGTERM');
    const t = Date.now();
    while (alive(child.pid) && Date.now() - t < 30_000) await sleep(100);
  }
}

// ---- figures ------------------------------------------------------------------------------

function stats(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s.at(-1) };
}
const ms = (n) => `${Math.round(n)} ms`;
const mb = (n) => `${(n / 2 ** 20).toFixed(0)} MB`;
const pct = (n) => `${n.toFixed(2)}%`;
const sum = (mem, k) => mem.reduce((s, m) => s + m[k], 0);
const byComm = (mem, k) => {
  const m = new Map();
  for (const x of mem) m.set(x.comm, (m.get(x.comm) ?? 0) + x[k]);
  return [...m].map(([c, v]) => `${c} ${mb(v)}`).join(', ');
};

// ---- main ---------------------------------------------------------------------------------

const build = /\/release\//.test(measured) ? 'release' : /\/debug\//.test(measured) ? 'debug' : 'custom';
const webkit = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libwebkit2gtk-4.1-0'], { encoding: 'utf8' }).stdout.trim();
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `Review Desk desktop benchmark: ${build} build (${relative(root, measured)}, ${mb(statSync(measured).size)}), ` +
    `WebKitGTK ${webkit || '?'}, Xvfb 1366x800, ${spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()} cores, load average ${load()}`,
);

const t0 = Date.now();
const full = desktopEnv('bench-desktop');
const empty = desktopEnv('bench-desktop-empty');
// The same desk with years of work: 5,000 tasks, the added ones finished long ago (a few drafts).
const large = desktopEnv('bench-desktop-large');
process.on('exit', () => [full, empty, large].forEach((e) => rmSync(e.dir, { recursive: true, force: true })));
for (const env of [full, large]) {
  for (let i = 0; i < DEMOS; i++) demo(env);
  for (let i = DEMOS; i < TASKS; i++) cli(env, ['task', 'add', '--draft', '--title', `Bench draft ${i + 1}`, '--topic', 'benchmark']);
}
cli(large, ['history', '--tasks', String(LARGE - TASKS)]);
console.log(
  `board: ${TASKS} tasks (${DEMOS} demo tasks at Assets Ready + ${TASKS - DEMOS} drafts, seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s); ` +
    `baseline: the same app on an empty board`,
);
console.log(`${RUNS} run${RUNS === 1 ? '' : 's'} each, alternating, after one warm-up launch each (fresh WebKit cache); file cache warm\n`);

const results = { full: [], empty: [], large: [] };
const line = (label, r) =>
  `${label}: ${ms(r.paint)} (native ${ms(r.native)} + UI ${ms(r.ui)}), RSS ${mb(sum(r.mem, 'rss'))}`;
{
  const w1 = await run(empty, 0);
  const w2 = await run(full, TASKS);
  const w3 = await run(large, LARGE);
  console.log(`warm-up   ${line('empty', w1)} | ${line(`${TASKS} tasks`, w2)} | ${line(`${LARGE} tasks`, w3)}`);
}
let idleResult;
for (let i = 0; i < RUNS; i++) {
  const e = await run(empty, 0);
  const l = await run(large, LARGE);
  results.large.push(l);
  // The idle measurement closes the window: last, as the window-state plugin remembers it.
  const f = await run(full, TASKS, i === RUNS - 1 ? idle : undefined);
  if (f.then) idleResult = f.then;
  results.empty.push(e);
  results.full.push(f);
  console.log(`run ${i + 1}     ${line('empty', e)} | ${line(`${TASKS} tasks`, f)} | ${line(`${LARGE} tasks`, l)}`);
}
const webDriverIdle = idleResult;
idleResult = await plainIdle(full);

console.log('\nstart-up: process start → board painted with its cards (process start from /proc: ±10 ms)');
const med = {};
for (const [key, label] of [
  ['full', `${TASKS} tasks`],
  ['large', `${LARGE} tasks`],
  ['empty', 'empty board'],
]) {
  const s = stats(results[key].map((r) => r.paint));
  med[key] = s.median;
  const n = stats(results[key].map((r) => r.native)).median;
  const u = stats(results[key].map((r) => r.ui)).median;
  const part = (k) => ms(stats(results[key].map((r) => r[k])).median);
  console.log(
    `  ${label.padEnd(11)} median ${ms(s.median)} (min ${ms(s.min)}, max ${ms(s.max)}): ` +
      `native start → page load ${ms(n)}, page load → board painted ${ms(u)} ` +
      `(script runs ${part('script')}, first read ${part('data')}, render and paint ${part('render')}; ` +
      `the rest of long columns ${part('rest')} later)`,
  );
}
console.log(`  ratio ${TASKS} tasks / empty board: ${(med.full / med.empty).toFixed(2)}×; ${LARGE} tasks / ${TASKS} tasks: ${(med.large / med.full).toFixed(2)}×`);
console.log(
  `  ${TASKS} tasks: ${med.full <= STARTUP_GOAL ? 'meets' : 'MISSES'} the goal (≤ ${STARTUP_GOAL} ms, release build)${build === 'release' ? '' : ` — this is a ${build} build`}`,
);

console.log(`\nmemory: app + WebKit processes, board shown, ${SETTLE_MS / 1000} s after first paint (median of ${RUNS})`);
const memMed = {};
const pssMed = {};
for (const [key, label] of [
  ['full', `${TASKS} tasks`],
  ['large', `${LARGE} tasks`],
  ['empty', 'empty board'],
]) {
  const rs = results[key];
  const rss = stats(rs.map((r) => sum(r.mem, 'rss'))).median;
  const pss = stats(rs.map((r) => sum(r.mem, 'pss'))).median;
  const mid = rs.find((r) => sum(r.mem, 'rss') === rss) ?? rs[0];
  memMed[key] = rss;
  pssMed[key] = pss;
  console.log(`  ${label.padEnd(11)} RSS ${mb(rss)} (${byComm(mid.mem, 'rss')}); PSS ${mb(pss)}`);
}
console.log(
  `  ratio ${TASKS} tasks / empty board: ${(memMed.full / memMed.empty).toFixed(2)}× (RSS ${memMed.full >= memMed.empty ? '+' : ''}${mb(memMed.full - memMed.empty)})`,
);
console.log(
  `  ${TASKS} tasks: PSS ${mb(pssMed.full)} — ${pssMed.full <= MEMORY_GOAL ? 'meets' : 'MISSES'} the goal (≤ ${mb(MEMORY_GOAL)} PSS, release build)${build === 'release' ? '' : ` — this is a ${build} build`}`,
);
const grew = pssMed.large / pssMed.full;
console.log(
  `  ${LARGE} tasks / ${TASKS} tasks (PSS): ${grew.toFixed(2)}× — ${grew <= LARGE_MEMORY_GOAL ? 'meets' : 'MISSES'} the goal (within ${Math.round((LARGE_MEMORY_GOAL - 1) * 100)}%)`,
);

const it = idleResult;
const cpuOf = (w) => (w.procs.reduce((s, p) => s + p.dTicks, 0) / TICK / w.secs) * 100;
const wakeupsOf = (w) => w.threads.reduce((s, t) => s + t.wakeups, 0);
const total = cpuOf(it);
const hidingWakeups = wakeupsOf(it.hiding);
console.log(
  `\nhiding: the first ${it.hiding.secs.toFixed(1)} s after the window closed (the app settling): ` +
    `${pct(cpuOf(it.hiding))} of one core, ${hidingWakeups.toFixed(1)} wake-ups per second`,
);
console.log(
  `under WebDriver (the launches above): ${pct(cpuOf(webDriverIdle))} of one core, ` +
    `${wakeupsOf(webDriverIdle).toFixed(1)} wake-ups per second over the same ${webDriverIdle.secs.toFixed(0)} s`,
);
console.log(`idle CPU: window closed (hidden, app in the tray), ${TASKS} tasks, launched without WebDriver, the next ${it.secs.toFixed(1)} s of wall time`);
console.log(
  `  ${pct(total)} of one core (CPU time counted in ${1000 / TICK} ms ticks: ±${pct(100 / TICK / it.secs)}) — ` +
    `${total <= IDLE_GOAL ? 'meets' : 'MISSES'} the goal (≤ ${IDLE_GOAL}%)`,
);
const allWakeups = wakeupsOf(it);
console.log(`  ${allWakeups.toFixed(1)} wake-ups per second in all — ${allWakeups <= WAKEUP_GOAL ? 'meets' : 'MISSES'} the goal (≤ ${WAKEUP_GOAL}/s)`);
for (const p of it.procs) {
  const ts = it.threads.filter((t) => t.pid === p.pid);
  const wakeups = ts.reduce((s, t) => s + t.wakeups, 0);
  console.log(
    `  ${p.proc.padEnd(21)} ${pct((p.dTicks / TICK / it.secs) * 100)}, ${wakeups.toFixed(1)} wakeups/s (${ts.length} threads)`,
  );
}
const busiest = [...it.threads]
  .sort((x, y) => y.dTicks - x.dTicks || y.wakeups - x.wakeups)
  .slice(0, 6)
  .map((t) => `${t.pid === it.pid ? '' : `${t.proc}:`}${t.thread} ${pct((t.dTicks / TICK / it.secs) * 100)} (${t.wakeups.toFixed(1)}/s)`);
console.log(`  busiest threads (CPU, wakeups/s): ${busiest.join(', ')}`);
const wakers = [...it.threads]
  .sort((x, y) => y.wakeups - x.wakeups)
  .slice(0, 8)
  .map((t) => `${t.pid === it.pid ? '' : `${t.proc}:`}${t.thread} ${t.wakeups.toFixed(1)}/s`);
console.log(`  most wake-ups: ${wakers.join(', ')}`);
if (it.gone.length) console.log(`  (ended during the measurement, not counted: ${it.gone.join(', ')})`);
console.log(`  RSS after ${HIDING_SECS + IDLE_SECS} s hidden: ${mb(sum(it.mem, 'rss'))} (${byComm(it.mem, 'rss')})`);
console.log(`\nload average at the end: ${load()} (other work on the machine slows start-up; CPU time is per process)`);
