// Shared setup of the browser end-to-end tests and the benchmark: a fresh data dir, database and
// workspace per test; `reviewdesk demo`; `reviewdesk serve` on port 0; Debian's Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../..');
export const bin = process.env.REVIEWDESK_BIN ?? join(root, 'target/debug/reviewdesk');
export const outputDir = join(here, 'output');
export const uiDist = join(root, 'ui/dist');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** A fresh environment: its own data dir, config dir, SQLite database and workspace. */
export function makeEnv(label = 'e2e') {
  const dir = mkdtempSync(join(tmpdir(), `reviewdesk-${label}-`));
  const env = {
    ...process.env,
    REVIEWDESK_DATA_DIR: join(dir, 'data'),
    REVIEWDESK_CONFIG_DIR: join(dir, 'config'),
    REVIEWDESK_DATABASE_URL: `sqlite://${join(dir, 'db.sqlite')}?mode=rwc`,
    REVIEWDESK_WORKSPACE: join(dir, 'ws'),
    REVIEWDESK_UI_DIR: uiDist,
    NO_COLOR: '1',
  };
  delete env.NOTION_TOKEN;
  for (const d of ['data', 'config', 'ws']) mkdirSync(join(dir, d), { recursive: true });
  return { dir, env, workspace: env.REVIEWDESK_WORKSPACE };
}

export function preflight() {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`cargo build -p reviewdesk-cli\` first`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(join(uiDist, 'index.html'))) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: join(root, 'ui'), stdio: 'inherit' });
    if (r.status !== 0) throw new Error('ui build failed (cd ui && npm ci && npm run build)');
  }
}

/** `reviewdesk <args>`, synchronously; returns stdout (throws with stderr on failure). */
export function cli(env, args) {
  const r = spawnSync(bin, args, { env: env.env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`reviewdesk ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Runs `reviewdesk demo` (a task run to Assets Ready) and returns the task id. */
export function demo(env) {
  const out = cli(env, ['demo']);
  const m = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(out);
  if (!m) throw new Error(`no task id in demo output: ${out}`);
  return m[0];
}

/** Starts `reviewdesk serve --addr 127.0.0.1:0`; resolves once it prints its address. */
export function serve(env, extraArgs = []) {
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', ...extraArgs], {
    env: env.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 30 s: ${stderr}`)), 30_000);
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (line) => {
      clearTimeout(timer);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (!m) return reject(new Error(`unexpected first line from serve: ${line}`));
      child.stdout.resume();
      resolvePromise({
        url: m[1].replace(/\/$/, ''),
        child,
        stderr: () => stderr,
        async stop() {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          await new Promise((r) => {
            const t = setTimeout(() => (child.kill('SIGKILL'), r()), 5000);
            child.once('exit', () => (clearTimeout(t), r()));
          });
        },
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}): ${stderr}`));
    });
  });
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Chromium with a fresh profile and a 1366x768 viewport. */
export async function browser(env) {
  const profile = join(env.dir, 'chromium-profile');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 768 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  return { context, page, errors };
}

/** JSON from the API (GET). */
export async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** A full test fixture; `close()` tears it all down. */
export async function fixture(label, { tasks = 1, env: extraEnv = {}, serveArgs = [] } = {}) {
  preflight();
  const env = makeEnv(label);
  Object.assign(env.env, extraEnv);
  const ids = [];
  for (let i = 0; i < tasks; i++) ids.push(demo(env));
  const server = await serve(env, serveArgs);
  const b = await browser(env);
  return {
    env,
    ids,
    server,
    ...b,
    async close() {
      await b.context.close().catch(() => {});
      await server.stop();
      if (!process.env.KEEP_TMP) rmSync(env.dir, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page, name, docsName) {
  mkdirSync(outputDir, { recursive: true });
  const path = join(outputDir, name);
  await page.screenshot({ path });
  if (docsName) copyFileSync(path, join(root, 'docs', docsName));
  return path;
}

/** Opens a task from the board and waits for the gallery to be ready (every tile settled). */
export async function openFromBoard(page, id) {
  await page.evaluate(() => delete document.body.dataset.galleryReady);
  await page.locator(`[data-testid=card][data-task-id="${id}"]`).click();
  await page.waitForFunction((tid) => document.body.dataset.galleryReady === tid, id);
}

/** Polls the API until the task's status satisfies `ok`; returns the detail. */
export async function waitForStatus(url, id, ok, what, timeoutMs = 120_000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    last = await getJson(`${url}/api/tasks/${id}`);
    if (ok(last.task.status)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: still ${last?.task.status} after ${timeoutMs} ms; log: ${last?.task.error_log}`);
}

/** The Gemini, Kling and ElevenLabs doubles as a process (`provider-doubles`); resolves with each one's URL. */
export async function startProviderDoubles() {
  const child = spawn(join(root, 'target/debug/provider-doubles'), [], { stdio: ['ignore', 'pipe', 'pipe'] });
  const urls = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider-doubles printed no URLs in 30 s: ${out}`)), 30_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const found = Object.fromEntries([...out.matchAll(/^(gemini|kling|elevenlabs) (http:\/\/\S+)$/gm)].map((m) => [m[1], m[2]]));
      if (Object.keys(found).length === 3) {
        clearTimeout(timer);
        resolvePromise(found);
      }
    });
    child.once('exit', (code) => reject(new Error(`provider-doubles exited (${code}): ${out}`)));
  });
  return {
    urls,
    /** Sets one of a double's triggers (`refuse_prompts`, `busy_background`, …) for prompts containing `word`. */
    async trigger(provider, trigger, word) {
      const r = await fetch(`${urls[provider]}/__control/trigger`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ trigger, word }),
      });
      if (!r.ok) throw new Error(`${provider} trigger ${trigger}: ${r.status} ${await r.text()}`);
    },
    stop: () => child.kill('SIGTERM'),
  };
}

export const FFMPEG = process.env.FFMPEG ?? '/usr/bin/ffmpeg';

// One second of test pattern per clip, H.264 in MP4 with the index up front (what a browser wants),
// and one second of tone per narration clip. Arguments are split on spaces before {output} is put in.
export const QUICK_MEDIA_CHANNEL = `channel_id: default
channel_name: Default
steps:
  video:
    executor: command
    program: ${FFMPEG}
    args: "-nostdin -y -loglevel error -f lavfi -i testsrc=duration=1:size=320x180:rate=10 -c:v libx264 -preset ultrafast -pix_fmt yuv420p -movflags +faststart {output}"
    timeout_secs: 60
  audio:
    executor: command
    program: ${FFMPEG}
    args: "-nostdin -y -loglevel error -f lavfi -i sine=frequency=440:duration=1 -c:a libmp3lame {output}"
    timeout_secs: 60
`;
