// The desktop app end to end: real Tauri window, real runtime, real notifications on the bus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  appPid,
  cli,
  demo,
  desktopBin,
  desktopEnv,
  launch,
  processName,
  processTree,
  waitGallery,
  waitStatusChange,
} from './harness.mjs';

/** Fails if any file under `dir` (the app's folders of one test) holds one of the secrets. */
function assertNoFileHolds(dir, secrets) {
  const walk = (d) =>
    readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
  for (const f of walk(dir)) {
    if (statSync(f).size > 50_000_000) continue;
    const bytes = readFileSync(f);
    for (const secret of secrets) assert.ok(!bytes.includes(secret), `a secret was written to ${f}`);
  }
}

async function openTask(app, id) {
  const card = await app.$(`[data-testid=card][data-task-id="${id}"]`);
  await card.waitForExist({ timeout: 30_000 });
  assert.equal(await card.getAttribute('data-status'), 'assets_ready');
  await app.execute(() => delete document.body.dataset.galleryReady);
  await card.click();
  await waitGallery(app, id);
}

/** Every tile's image, as the webview loaded it through the reviewdesk:// scheme. */
async function tiles(app) {
  return app.execute(() =>
    [...document.querySelectorAll('[data-testid=tile]')].map((t) => {
      const img = t.querySelector('img');
      return { name: t.dataset.name, kind: t.dataset.kind, src: img?.currentSrc ?? '', width: img?.naturalWidth ?? 0 };
    }),
  );
}

async function waitImagesLoaded(app) {
  await app.waitUntil(
    async () => (await tiles(app)).every((t) => t.width > 0),
    { timeout: 30_000, timeoutMsg: 'not every thumbnail loaded' },
  );
}

test('desktop: a task at Assets Ready shows 22 images; A approves and the new status is shown', async (t) => {
  const env = desktopEnv('desktop-approve');
  const id = demo(env);
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;

  await openTask(app, id);
  await waitImagesLoaded(app);
  const shown = await tiles(app);
  assert.equal(shown.length, 22);
  assert.deepEqual(
    ['character', 'environment', 'prop'].map((k) => shown.filter((x) => x.kind === k).length),
    [8, 8, 6],
  );
  for (const x of shown) assert.match(x.src, /^reviewdesk:\/\/|^http:\/\/reviewdesk\.localhost\//, x.name);

  await app.keys('a');
  const toast = await app.$('[data-testid=toast]');
  await toast.waitForExist({ timeout: 10_000 });
  assert.match(await toast.getText(), /Assets Approved/);
  const status = await waitStatusChange(app, id, 'assets_ready');
  assert.match(status, /assets_approved|generating_composites|composites_ready/);

  // The decision is in the database with the desktop as its source.
  const detail = JSON.parse(cli(env, ['task', 'show', id, '--json']));
  assert.notEqual(detail.task.status, 'assets_ready');
  const decision = detail.audit.find((a) => a.decision === 'approve');
  assert.ok(decision, 'an approve audit row');
  assert.equal(decision.source, 'desktop');
});

test('desktop: start-up reads the board once, and a task added by another process afterwards reaches the window', async (t) => {
  const env = desktopEnv('desktop-start');
  const id = demo(env);
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;

  await (await app.$(`[data-testid=card][data-task-id="${id}"]`)).waitForExist({ timeout: 30_000 });
  const streamState = () => app.execute(() => document.querySelector('[data-testid=stream-state]')?.textContent?.trim());
  await app.waitUntil(async () => (await streamState()) === 'live', {
    timeout: 30_000,
    timeoutMsg: 'the event stream never went live',
  });
  // Another process (the CLI) adds a task once the window listens: the event reaches it.
  const added = JSON.parse(cli(env, ['task', 'add', '--draft', '--title', 'Added from the CLI', '--json'])).id;
  await (await app.$(`[data-testid=card][data-task-id="${added}"]`)).waitForExist({
    timeout: 30_000,
    timeoutMsg: 'the task added by the CLI never reached the window',
  });
  // The read made while the page loaded reflects where the window's events start: it was not
  // repeated when they went live (each read leaves a 'board-read' mark).
  const reads = await app.execute(() => performance.getEntriesByName('board-read').length);
  assert.equal(reads, 1);
});

test('desktop: no process of the app holds memory that is both writable and executable (JavaScript runs without a JIT), and the board still works', async (t) => {
  const env = desktopEnv('desktop-wx');
  const id = demo(env);
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  // The page's scripts ran: the board is painted with its card.
  await (await app.$(`[data-testid=card][data-task-id="${id}"]`)).waitForExist({ timeout: 30_000 });

  const tree = processTree(appPid(env)).map((pid) => ({ pid, name: processName(pid) }));
  const names = tree.map((p) => p.name);
  assert.ok(names.includes('WebKitWebProcess'), `no web process under the app: ${names.join(', ')}`);
  assert.ok(names.includes('WebKitNetworkProcess'), `no network process under the app: ${names.join(', ')}`);
  for (const { pid, name } of tree) {
    let maps;
    try {
      maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
    } catch {
      continue; // a helper that has ended meanwhile
    }
    // JavaScriptCore's JIT reserves 1 GB of rwx memory for compiled code in every WebKit process.
    const wx = maps.split('\n').filter((l) => /^\S+ .wx/.test(l));
    assert.deepEqual(wx, [], `${name} (${pid}) has writable and executable memory`);
  }
});

test('desktop: flag two assets and reject with feedback; only they are marked for regeneration', async (t) => {
  const env = desktopEnv('desktop-reject');
  const id = demo(env);
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;

  await openTask(app, id);
  await app.keys('ArrowRight');
  await app.keys('f');
  await app.keys('ArrowDown');
  await app.keys('f');
  await app.waitUntil(
    async () => (await app.$$('[data-testid=tile][data-flagged=true]').length) === 2,
    { timeout: 10_000, timeoutMsg: 'two tiles were not flagged' },
  );
  const flagged = await app.execute(() =>
    [...document.querySelectorAll('[data-testid=tile][data-flagged=true]')].map((t) => t.dataset.name),
  );

  await app.keys('r');
  const box = await app.$('[data-testid=feedback]');
  await box.waitForExist({ timeout: 10_000 });
  await box.setValue('Make them brighter, please');
  await (await app.$('[data-testid=reject-submit]')).click();
  const status = await waitStatusChange(app, id, 'assets_ready');
  assert.match(status, /asset_error|generating_assets|queued/);

  const detail = JSON.parse(cli(env, ['task', 'show', id, '--json']));
  assert.match(detail.task.error_log, /Make them brighter, please/);
  const nowFlagged = detail.assets.filter((a) => a.flagged).map((a) => a.name).sort();
  assert.deepEqual(nowFlagged, [...flagged].sort());
  const decision = detail.audit.find((a) => a.decision === 'reject');
  assert.equal(decision.source, 'desktop');
  assert.equal(decision.reason, 'Make them brighter, please');
  assert.deepEqual([...decision.flagged].sort(), [...flagged].sort());
});

test('desktop: a task reaching Assets Ready raises an "Assets ready" notification on the session bus', async (t) => {
  const env = desktopEnv('desktop-notify');
  const title = `Notify ${Date.now()}`;
  // Watch the bus, start the app, then queue the task: the app's in-process worker takes it to
  // the gate while the window is open.
  const monitor = spawn('dbus-monitor', ['--session', "interface='org.freedesktop.Notifications'"], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let bus = '';
  monitor.stdout.on('data', (d) => (bus += d));
  t.after(() => monitor.kill('SIGTERM'));
  const d = await launch(env);
  t.after(() => d.close());
  cli(env, ['task', 'add', '--title', title, '--topic', 'tides']);

  const expected = `Assets ready — ${title} (22 images)`;
  const until = Date.now() + 120_000;
  while (!bus.includes(expected)) {
    assert.ok(Date.now() < until, `no "${expected}" Notify call seen on the bus; saw:\n${bus.slice(-2000)}`);
    await new Promise((r) => monitor.stdout.once('data', r).once('close', r));
  }
  const call = bus.slice(bus.lastIndexOf('member=Notify', bus.indexOf(expected)));
  assert.match(call, /member=Notify/);
  assert.match(call, /Review Desk|reviewdesk/i);
});

test('desktop: settings keep the Notion token out of every plain file', async (t) => {
  const env = desktopEnv('desktop-settings');
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  await (await app.$('[data-testid=stream-state]')).waitForExist({ timeout: 30_000 });
  await app.keys(',');
  const dialog = await app.$('[role=dialog][aria-label=Settings]');
  await dialog.waitForExist({ timeout: 10_000 });
  await (await app.$('[data-testid=token-source]')).waitForExist();
  assert.equal(await (await app.$('[data-testid=token-source]')).getText(), 'Not set');

  const poll = await app.$('#settings-poll');
  await poll.scrollIntoView(); // the dialog scrolls: fields below its fold cannot be typed into
  await poll.setValue('45');
  await (await app.$('[data-testid=settings-save]')).click();
  await app.waitUntil(async () => {
    const status = await app.$$('[role=status]');
    for (const s of status) if ((await s.getText()).includes('Settings saved')) return true;
    return false;
  }, { timeout: 10_000, timeoutMsg: 'no "Settings saved."' });
  const settingsFile = JSON.parse(readFileSync(join(env.env.REVIEWDESK_CONFIG_DIR, 'settings.json'), 'utf8'));
  assert.equal(settingsFile.notion_poll_secs, 45);

  const secret = 'ntn_e2eSecretToken0123456789abcdefABCDEF';
  await (await app.$('#settings-token')).setValue(secret);
  await (await app.$('button=Save token')).click();
  // Without a keyring service on this bus the app says so; with one, the token lands there.
  await app.waitUntil(async () => {
    const err = await app.$('[data-testid=token-error]');
    if (await err.isExisting()) return true;
    return (await (await app.$('[data-testid=token-source]')).getText()) === 'Stored in the OS keyring';
  }, { timeout: 10_000, timeoutMsg: 'saving the token gave no answer' });
  const err = await app.$('[data-testid=token-error]');
  if (await err.isExisting()) assert.match(await err.getText(), /keyring/i);
  // Wherever it went, it is in no file of the app's folders.
  assertNoFileHolds(env.dir, [secret]);
});

test('desktop: the start-at-login toggle writes and removes the XDG autostart entry', async (t) => {
  const env = desktopEnv('desktop-autostart');
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  await (await app.$('[data-testid=stream-state]')).waitForExist({ timeout: 30_000 });
  await app.keys(',');
  const toggle = await app.$('[data-testid=autostart]');
  await toggle.waitForExist({ timeout: 10_000 });
  const entry = join(env.env.XDG_CONFIG_HOME, 'autostart', 'reviewdesk.desktop');
  assert.equal(await toggle.isSelected(), false);
  assert.ok(!existsSync(entry));
  await toggle.click();
  await app.waitUntil(async () => existsSync(entry), { timeout: 10_000, timeoutMsg: 'no autostart entry was written' });
  const text = readFileSync(entry, 'utf8');
  assert.match(text, /^\[Desktop Entry\]\n/);
  // It starts this very program.
  assert.match(text, new RegExp(`\nExec=${desktopBin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
  await app.waitUntil(async () => toggle.isSelected(), { timeout: 10_000, timeoutMsg: 'the toggle did not show on' });
  await toggle.click();
  await app.waitUntil(async () => !existsSync(entry), { timeout: 10_000, timeoutMsg: 'the autostart entry was not removed' });
});

test("desktop: Open in Notion and Help → Open logs folder go to the desktop's opener, and History → Export saves the review record into the user's folder", async (t) => {
  const env = desktopEnv('desktop-openers');
  // A stand-in xdg-open first on the PATH writes down what it was asked to open.
  const bin = join(env.dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const opened = join(env.dir, 'opened.txt');
  writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${opened}'\n`, { mode: 0o755 });
  env.env.PATH = `${bin}:${env.env.PATH}`;
  env.env.HOME = join(env.dir, 'home'); // where an export is saved (its Downloads, or home itself)
  mkdirSync(env.env.HOME, { recursive: true });
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  await (await app.$('[data-testid=stream-state]')).waitForExist({ timeout: 30_000 });
  const pageId = '1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809';
  const task = await app.execute(
    (page) =>
      window.__TAURI_INTERNALS__.invoke('create_task', { body: { title: 'Mirrored task', draft: true, notion_page_id: page } }),
    pageId,
  );
  const card = await app.$(`[data-testid=card][data-task-id="${task.id}"]`);
  await card.waitForExist({ timeout: 30_000 });
  await card.click();
  const open = await app.$('[data-testid=open-in-notion]');
  await open.waitForExist({ timeout: 10_000 });
  await open.click();
  const lines = async () => (existsSync(opened) ? readFileSync(opened, 'utf8').trim().split('\n') : []);
  await app.waitUntil(async () => (await lines()).length === 1, { timeout: 10_000, timeoutMsg: 'nothing was opened' });
  assert.deepEqual(await lines(), ['https://www.notion.so/1a2b3c4d5e6f708192a3b4c5d6e7f809']);

  await app.keys('?');
  const logs = await app.$('[data-testid=open-logs]');
  await logs.waitForExist({ timeout: 10_000 });
  await logs.click();
  await app.waitUntil(async () => (await lines()).length === 2, { timeout: 10_000, timeoutMsg: 'the log folder was not opened' });
  const folder = (await lines())[1];
  assert.equal(folder, join(env.env.REVIEWDESK_DATA_DIR, 'logs'));
  assert.ok(statSync(folder).isDirectory());

  // History → Export CSV saves the review record into the user's folder and says where.
  await app.keys('Escape');
  await (await app.$('[data-testid=open-history]')).click();
  await (await app.$('[data-testid=export-csv]')).click();
  const said = await app.$('[data-testid=export-said]');
  await said.waitForExist({ timeout: 10_000 });
  const m = / saved to (\/.+\.csv)$/.exec(await said.getText());
  assert.ok(m, await said.getText());
  assert.ok(m[1].startsWith(env.env.HOME), m[1]);
  assert.match(readFileSync(m[1], 'utf8'), /^time,task_id,task_title,channel_id,gate,decision/);
});

test('desktop: Settings → Providers says where each key comes from and Check connection tells a working key from a refused one', async (t) => {
  const env = desktopEnv('desktop-providers');
  const { startProviderDoubles } = await import('../e2e/harness.mjs');
  const doubles = await startProviderDoubles();
  t.after(() => doubles.stop());
  const wrongKey = 'sk_e2eWrongElevenLabsKey0123456789';
  Object.assign(env.env, {
    GEMINI_API_KEY: 'gemini-double-key',
    GEMINI_BASE_URL: doubles.urls.gemini,
    KLING_ACCESS_KEY: 'kling-double-access',
    KLING_SECRET_KEY: 'kling-double-secret',
    KLING_BASE_URL: doubles.urls.kling,
    ELEVENLABS_API_KEY: wrongKey,
    ELEVENLABS_BASE_URL: doubles.urls.elevenlabs,
  });
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  await (await app.$('[data-testid=stream-state]')).waitForExist({ timeout: 30_000 });
  await app.keys(',');
  const section = await app.$('[data-testid=settings-providers]');
  await section.waitForExist({ timeout: 10_000 });
  const source = async (key) => (await app.$(`[data-key="${key}"] [data-testid=key-source]`)).getText();
  assert.equal(await source('gemini-api-key'), 'From the GEMINI_API_KEY environment variable');
  assert.equal(await source('kling-secret-key'), 'From the KLING_SECRET_KEY environment variable');
  assert.equal(await source('kling-api-key'), 'Not set');

  const check = async (provider) => {
    const box = await app.$(`[data-provider="${provider}"]`);
    const button = await box.$('[data-testid=provider-check]');
    await button.scrollIntoView(); // the dialog scrolls: a button below its fold cannot be clicked
    await button.click();
    const report = await box.$('[data-testid=provider-check-report]');
    await report.waitForExist({ timeout: 20_000, timeoutMsg: `no ${provider} check report` });
    return { ok: await report.getAttribute('data-ok'), text: await report.getText() };
  };
  const gemini = await check('gemini');
  assert.equal(gemini.ok, 'true', gemini.text);
  assert.match(gemini.text, /Gemini: connected \(127\.0\.0\.1:\d+\)/);
  const kling = await check('kling');
  assert.equal(kling.ok, 'true', kling.text);
  const eleven = await check('elevenlabs');
  assert.equal(eleven.ok, 'false', eleven.text);
  assert.match(eleven.text, /ElevenLabs .*key was refused/);
  assert.ok(!eleven.text.includes(wrongKey), 'the key is never shown');

  // Saving a key: into the keyring when there is one, else a clear error; never into a file.
  const typed = 'AIzaE2eTypedGeminiKey0123456789';
  const keyInput = await app.$('#key-gemini-api-key');
  await keyInput.scrollIntoView();
  await keyInput.setValue(typed);
  await (await (await app.$('[data-key="gemini-api-key"]')).$('button=Save')).click();
  await app.waitUntil(async () => {
    if (await (await app.$('[data-testid=key-error]')).isExisting()) return true;
    return (await source('gemini-api-key')) === 'Stored in the OS keyring';
  }, { timeout: 10_000, timeoutMsg: 'saving the key gave no answer' });
  const err = await app.$('[data-testid=key-error]');
  if (await err.isExisting()) assert.match(await err.getText(), /keyring/i);
  assertNoFileHolds(env.dir, [typed, wrongKey]);
});

/** The Notion test double as a process (`notion-double --port 0`); resolves with its URL. */
async function startNotionDouble() {
  const { root } = await import('../e2e/harness.mjs');
  const child = spawn(join(root, 'target/debug/notion-double'), ['--port', '0', '--rate', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`notion-double printed no URL in 30 s: ${out}`)), 30_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out); // its first line is the URL
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`notion-double exited (${code}): ${out}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

test('desktop: a fresh profile is welcomed; Notion is connected from the window (token, a page picked, databases created), a channel is added with the form and a New task on it reaches Assets Ready', async (t) => {
  const env = desktopEnv('desktop-first-run');
  const double = await startNotionDouble();
  t.after(() => double.stop());
  env.env.NOTION_BASE_URL = double.url; // no NOTION_TOKEN: the token is pasted in the window
  const seeded = await fetch(`${double.url}/__control/pages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Video Production', shared: true }),
  });
  assert.ok(seeded.ok, await seeded.text());
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  const welcome = await app.$('[data-testid=first-run]');
  await welcome.waitForExist({ timeout: 30_000, timeoutMsg: 'a fresh profile shows no welcome' });
  await (await app.$('[data-testid=first-run-connect]')).click();

  await (await app.$('#settings-token')).setValue('ntn_double_test_token');
  await (await app.$('button=Save token')).click();
  // Saved in the keyring where there is one; otherwise used for this session, and said so.
  await app.waitUntil(async () => {
    if (await (await app.$('[data-testid=token-error]')).isExisting()) return true;
    return (await (await app.$('[data-testid=token-source]')).getText()) === 'Stored in the OS keyring';
  }, { timeout: 10_000, timeoutMsg: 'saving the token gave no answer' });
  const tokenError = await app.$('[data-testid=token-error]');
  if (await tokenError.isExisting()) assert.match(await tokenError.getText(), /until Review Desk quits/);

  const find = await app.$('[data-testid=find-pages]');
  await find.scrollIntoView();
  await find.click();
  const page = await app.$('[data-testid=page-choice][data-title="Video Production"]');
  await page.waitForExist({ timeout: 20_000, timeoutMsg: 'the shared page is not listed' });
  await page.click();
  const create = await app.$('[data-testid=create-databases]');
  await create.scrollIntoView();
  await create.click();
  const said = await app.$('[data-testid=connect-said]');
  await said.waitForExist({ timeout: 30_000 });
  assert.match(await said.getText(), /^Connected: #default/);
  const yaml = readFileSync(join(env.env.REVIEWDESK_CONFIG_DIR, 'channels/default.yaml'), 'utf8');
  assert.match(yaml, /tasks_database_id: \S+/);
  assert.match(yaml, /audio_database_id: \S+/);
  await app.keys('Escape');

  // A channel added with the form, then a New task on it.
  await (await app.$('[data-testid=channels-open]')).click();
  await (await app.$('[data-testid=channel-id]')).setValue('science_daily');
  await (await app.$('[data-testid=channel-name]')).setValue('Science Daily');
  await (await app.$('[data-testid=channel-save]')).click();
  await (await app.$('[data-testid=channel-saved]')).waitForExist({ timeout: 10_000 });
  await app.keys('Escape');
  await (await app.$('[data-testid=new-task-open]')).click();
  await (await app.$('[data-testid=new-title]')).setValue('Why the sky is blue');
  await (await app.$('[data-testid=new-channel]')).selectByAttribute('value', 'science_daily');
  await (await app.$('[data-testid=new-submit]')).click();
  // The configuration the window wrote is one `reviewdesk` accepts, and the in-app worker takes the
  // task to the gate.
  let task;
  await app.waitUntil(
    async () => {
      task = JSON.parse(cli(env, ['task', 'list', '--json'])).find((x) => x.title === 'Why the sky is blue');
      return task?.status === 'assets_ready';
    },
    { timeout: 90_000, interval: 500, timeoutMsg: `the new task did not reach Assets Ready: ${JSON.stringify(task)}` },
  );
  assert.equal(task.channel_id, 'science_daily');
  const card = await app.$(`[data-testid=card][data-task-id="${task.id}"]`);
  await app.waitUntil(async () => (await card.getAttribute('data-status')) === 'assets_ready', { timeout: 30_000 });
});

test('desktop: Check connection names a missing Notion property, and Add what is missing puts it back', async (t) => {
  const env = desktopEnv('desktop-notion');
  const double = await startNotionDouble();
  t.after(() => double.stop());
  const token = 'ntn_double_test_token';
  Object.assign(env.env, { NOTION_TOKEN: token, NOTION_BASE_URL: double.url });
  const notion = async (method, path, body) => {
    const r = await fetch(`${double.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Notion-Version': '2025-09-03', 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  // A real setup through the CLI: databases under a shared page, ids in the channel file.
  const parent = await (await fetch(`${double.url}/__control/pages`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'Review Desk', shared: true }),
  })).json();
  cli(env, ['notion', 'init', '--parent-page', parent.id, '--channel', 'default']);
  const yaml = readFileSync(join(env.env.REVIEWDESK_CONFIG_DIR, 'channels/default.yaml'), 'utf8');
  const tasksDb = /tasks_database_id: (\S+)/.exec(yaml)[1];
  const dataSource = (await notion('GET', `/v1/databases/${tasksDb}`)).data_sources[0].id;
  // Someone deletes a property in Notion.
  await notion('PATCH', `/v1/data_sources/${dataSource}`, { properties: { 'Retry Status': null } });

  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  await (await app.$('[data-testid=stream-state]')).waitForExist({ timeout: 30_000 });
  await app.keys(',');
  await (await app.$('[role=dialog][aria-label=Settings]')).waitForExist({ timeout: 10_000 });
  await (await app.$('[data-testid=settings-check]')).click();
  const report = await app.$('[data-testid=settings-check-report]');
  await report.waitForExist({ timeout: 30_000 });
  const before = await report.getText();
  assert.match(before, /"Retry Status" is missing/);
  assert.match(before, /rich_text/);
  assert.match(before, /can be added/);

  await (await app.$('[data-testid=settings-fix]')).click();
  await app.waitUntil(async () => /Added 1 missing item/.test(await (await app.$('[data-testid=settings-check-report]')).getText()), {
    timeout: 30_000,
    timeoutMsg: 'Add what is missing gave no report',
  });
  const props = (await notion('GET', `/v1/data_sources/${dataSource}`)).properties;
  assert.equal(props['Retry Status']?.type, 'rich_text');
});

/** Waits on the board until the task's card shows `status`, then opens the task there. */
async function openAt(app, id, status, timeout = 120_000) {
  await app.execute(() => (location.hash = '#/'));
  const card = await app.$(`[data-testid=card][data-task-id="${id}"][data-status=${status}]`);
  await card.waitForExist({ timeout, timeoutMsg: `the card never showed ${status}` });
  await card.click();
  await (await app.$(`[data-testid=task-status][data-status=${status}]`)).waitForExist({ timeout: 30_000 });
  await (await app.$('[data-testid=media-review]')).waitForExist({ timeout: 30_000 });
}

test("desktop: make run's sample task goes to Upload Complete from the window with the built-in steps: a clip flagged and rejected at Videos Ready, Audio Ready approved, the final video played and approved", async (t) => {
  // No channel file: the built-in executors (ffmpeg, espeak-ng), exactly what `make run` gives.
  const env = desktopEnv('desktop-media');
  const id = demo(env);
  const d = await launch(env);
  t.after(() => d.close());
  const { app } = d;
  const started = Date.now();
  const stage = (what) => console.log(`# ${what} after ${((Date.now() - started) / 1000).toFixed(0)} s`);

  await openTask(app, id);
  await app.keys('a');
  // The window's worker makes 18 composites and 18 clips of 10 s at 1920x1080.
  await openAt(app, id, 'video_ready', 600_000);
  stage('Videos Ready');
  const clip = await app.$('[data-testid=media-item][data-item=clip_02]');
  await clip.waitForExist({ timeout: 30_000 });
  await app.execute(() => document.querySelector('[data-testid=media-item][data-item=clip_02]').focus());
  await app.keys('f');
  await app.waitUntil(async () => (await clip.getAttribute('data-flagged')) === 'true', {
    timeout: 10_000,
    timeoutMsg: 'clip_02 was not flagged',
  });
  await app.keys('r');
  const box = await app.$('[data-testid=feedback]');
  await box.waitForExist({ timeout: 10_000 });
  assert.equal(await box.getValue(), 'Regenerate Clip 2: ');
  await box.addValue('the camera should pan');
  await (await app.$('[data-testid=reject-submit]')).click();
  await waitStatusChange(app, id, 'video_ready');
  const rejected = JSON.parse(cli(env, ['task', 'show', id, '--json']));
  const decision = rejected.audit.find((a) => a.decision === 'reject');
  assert.equal(decision.source, 'desktop');
  assert.deepEqual(decision.flagged, ['clip_02']);

  // Retried, the window's worker remakes clip_02 alone and the task is back at the gate.
  cli(env, ['retry', id]);
  await openAt(app, id, 'video_ready');
  const again = JSON.parse(cli(env, ['task', 'show', id, '--json']));
  const versions = again.outputs.filter((o) => o.step === 'video').map((o) => `${o.item}:${o.version}`);
  assert.ok(versions.includes('clip_02:2'), versions.join(' '));
  assert.equal(versions.filter((v) => v.endsWith(':1')).length, 17);

  await app.keys('a');
  await openAt(app, id, 'audio_ready');
  stage('Audio Ready');
  await app.keys('a');
  await openAt(app, id, 'final_review', 600_000);
  stage('Ready for Review');
  // The final gate plays the assembled video: WebKitGTK's player fetches it from the app's
  // loopback media server (its players refuse the reviewdesk: scheme).
  // The status shows before the detail with the final video has rendered: wait for its player.
  const finalSrc = () =>
    app.execute(() => document.querySelector('[data-testid=media-item][data-step=assembly] video')?.getAttribute('src') ?? '');
  await app.waitUntil(async () => (await finalSrc()) !== '', { timeout: 30_000, timeoutMsg: 'the final gate shows no video player' });
  const src = await finalSrc();
  assert.match(src, /^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{64}\//);
  assert.match(decodeURIComponent(src ?? ''), new RegExp(`final/${id}_final\\.mp4$`));
  const playback = () =>
    app.execute(() => {
      const v = document.querySelector('[data-testid=media-item][data-step=assembly] video');
      return { error: v?.error?.code ?? null, duration: v?.duration ?? 0, time: v?.currentTime ?? 0, ready: v?.readyState ?? 0 };
    });
  await app.waitUntil(async () => (await playback()).ready >= 1 || (await playback()).error !== null, {
    timeout: 30_000,
    timeoutMsg: 'the final video never loaded its metadata',
  });
  const loaded = await playback();
  assert.equal(loaded.error, null, 'the final video loads');
  assert.ok(loaded.duration > 10, `the final video lasts ${loaded.duration} s`);
  await app.execute(() => {
    const v = document.querySelector('[data-testid=media-item][data-step=assembly] video');
    v.muted = true;
    void v.play();
  });
  await app.waitUntil(async () => (await playback()).time > 0.2, {
    timeout: 30_000,
    timeoutMsg: 'the final video did not play',
  });
  await app.execute(() => document.querySelector('[data-testid=media-item][data-step=assembly] video').pause());
  await app.keys('a');
  await app.execute(() => (location.hash = '#/'));
  await (await app.$(`[data-testid=card][data-task-id="${id}"][data-status=published]`)).waitForExist({ timeout: 120_000 });
  const done = JSON.parse(cli(env, ['task', 'show', id, '--json']));
  assert.equal(done.audit.filter((a) => a.decision === 'approve' && a.source === 'desktop').length, 4, 'approved at all four gates in the window');
  // Published to the channel's folder: the video and its sidecar.
  const published = join(env.workspace, 'published', 'default');
  const files = readdirSync(published);
  const video = files.find((f) => f.endsWith('.mp4'));
  assert.ok(video && statSync(join(published, video)).size > 100_000, files.join(' '));
  const sidecar = JSON.parse(readFileSync(join(published, files.find((f) => f.endsWith('.json'))), 'utf8'));
  assert.equal(sidecar.title, 'Demo: Secrets of the deep sea');
  assert.equal(sidecar.chapters.length, 18);
});
