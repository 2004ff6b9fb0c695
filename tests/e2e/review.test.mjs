// Browser end-to-end: the review flows (README, "The review, in the browser") against a real `reviewdesk serve`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cli, fixture, getJson, openFromBoard, screenshot } from './harness.mjs';

const PIPELINE = [
  'assets_ready', 'assets_approved', 'generating_composites', 'composites_ready', 'generating_video',
  'video_ready', 'video_approved', 'generating_audio', 'audio_ready',
];

/** RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and line breaks. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length) row.push(field), rows.push(row);
  return rows;
}

async function tileReport(page) {
  return page.$$eval('[data-testid=tile]', (tiles) =>
    tiles.map((t) => {
      const img = t.querySelector('img');
      const r = t.getBoundingClientRect();
      return {
        name: t.dataset.name,
        kind: t.dataset.kind,
        broken: t.dataset.broken === 'true',
        naturalWidth: img ? img.naturalWidth : 0,
        complete: img ? img.complete : false,
        inViewport: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
        text: t.textContent,
      };
    }),
  );
}

test('open the board, review 22 images, flag two by keyboard, reject with feedback', async (t) => {
  const f = await fixture('reject');
  t.after(() => f.close());
  const { page, server } = f;
  const [id] = f.ids;

  await page.goto(server.url);
  const card = page.locator(`[data-testid=card][data-task-id="${id}"]`);
  await card.waitFor();
  assert.equal(await card.getAttribute('data-status'), 'assets_ready');
  assert.match(await card.textContent(), /Assets Ready/);
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  await screenshot(page, 'board.png', 'screenshot-board.png');

  await openFromBoard(page, id);
  const tiles = await tileReport(page);
  assert.equal(tiles.length, 22);
  assert.deepEqual(
    ['character', 'environment', 'prop'].map((k) => tiles.filter((x) => x.kind === k).length),
    [8, 8, 6],
  );
  for (const x of tiles) {
    assert.ok(x.naturalWidth > 0, `${x.name} loaded`);
    assert.ok(x.inViewport, `${x.name} visible without scrolling`);
  }
  for (const label of ['Characters (8)', 'Environments (8)', 'Props (6)']) {
    await page.getByText(label, { exact: true }).waitFor();
  }
  const noScroll = await page.$eval('[data-testid=gallery]', (g) => g.scrollHeight <= g.clientHeight + 1);
  assert.ok(noScroll, 'the gallery does not scroll at 1366x768');
  const measure = await page.evaluate(() => performance.getEntriesByName('gallery', 'measure').at(-1)?.duration);
  assert.ok(typeof measure === 'number', 'gallery-ready measured');

  // Flag the second character and the second environment with the keyboard.
  const flagPut = () => page.waitForResponse((r) => r.url().includes('/flag') && r.request().method() === 'PUT');
  await page.keyboard.press('ArrowRight');
  let put = flagPut();
  await page.keyboard.press('f');
  assert.equal((await put).status(), 204);
  await page.keyboard.press('ArrowDown');
  put = flagPut();
  await page.keyboard.press('f');
  assert.equal((await put).status(), 204);
  const flagged = await page.$$eval('[data-testid=tile][data-flagged=true]', (ts) => ts.map((t) => t.dataset.name));
  assert.equal(flagged.length, 2);
  assert.deepEqual(flagged, [tiles[1].name, tiles[9].name]);
  await screenshot(page, 'gallery.png', 'screenshot-gallery.png');

  // Keys do not fire while typing: typing "a" in a flag note must not approve.
  // Typing a note (with an "a" and an "r" in it) neither approves nor rejects.
  const note = page.locator(`[data-testid=tile][data-name="${flagged[0]}"] input.note`);
  put = flagPut();
  await note.pressSequentially('too dark');
  await note.press('Enter'); // saves the note and leaves the box
  assert.equal((await put).status(), 204);
  assert.equal(await page.locator('[data-testid=task-status]').getAttribute('data-status'), 'assets_ready');
  assert.equal(await page.locator('[data-testid=reject-dialog]').count(), 0);

  // Reject: the box opens pre-filled with the flagged names; feedback is required.
  await page.keyboard.press('r');
  const box = page.locator('[data-testid=feedback]');
  await box.waitFor();
  const prefill = await box.inputValue();
  for (const n of flagged) assert.ok(prefill.includes(n), `prefill names ${n}: ${prefill}`);
  assert.ok(prefill.includes('too dark'), `prefill carries the note: ${prefill}`);
  await box.fill('');
  assert.ok(await page.locator('[data-testid=reject-submit]').isDisabled(), 'empty feedback cannot be sent');
  const feedback = `${prefill}make them brighter and less blurry`;
  await box.fill(feedback);
  await page.locator('[data-testid=reject-submit]').click();

  // No other task waits: the board comes back, the card shows the error and the feedback.
  const errCard = page.locator(`[data-testid=card][data-task-id="${id}"][data-status=asset_error]`);
  await errCard.waitFor();
  assert.match(await errCard.textContent(), /Asset Error/);
  assert.match(await errCard.locator('[data-testid=card-error]').textContent(), /make them brighter/);
  assert.match(await errCard.locator('[data-testid=card-error]').textContent(), /retry \d\/5/);

  // The task page shows the status, the feedback and both flags.
  await errCard.click();
  await page.locator('[data-testid=task-status][data-status=asset_error]').waitFor();
  assert.match(await page.locator('[data-testid=task-error-line]').textContent(), /make them brighter/);
  const shownFlags = await page.locator('[data-testid=task-flags]').textContent();
  for (const n of flagged) assert.ok(shownFlags.includes(n), `UI shows flag ${n}`);

  // H opens the review record: the rejection with its door, feedback and flags, the time the task
  // waited at the gate, and every status it went through, the current one last.
  await page.keyboard.press('h');
  const history = page.locator('[data-testid=history]');
  await history.waitFor();
  const decision = await history.locator('[data-testid=history-decision]').first().textContent();
  assert.match(decision, /Rejected at Assets Ready/);
  assert.match(decision, /\(browser\)/);
  assert.match(decision, /make them brighter/);
  for (const n of flagged) assert.ok(decision.includes(n), `the decision lists flag ${n}: ${decision}`);
  assert.match(await history.locator('[data-testid=history-gate]').first().textContent(), /^Assets Ready: /);
  const statuses = await history.locator('[data-testid=history-status]').evaluateAll((rows) => rows.map((r) => r.dataset.status));
  assert.deepEqual(statuses.slice(-2), ['assets_ready', 'asset_error'], `statuses: ${statuses}`);
  assert.ok(statuses.includes('generating_assets'), `statuses: ${statuses}`);
  assert.match(await history.locator('[data-testid=history-status]').last().textContent(), /so far/);
  await page.keyboard.press('Escape');
  await history.waitFor({ state: 'detached' });
  await page.locator('[data-testid=task-status][data-status=asset_error]').waitFor();

  // And the API agrees.
  const detail = await getJson(`${server.url}/api/tasks/${id}`);
  assert.equal(detail.task.status, 'asset_error');
  assert.ok(detail.task.error_log.includes('make them brighter'), detail.task.error_log);
  assert.deepEqual(detail.assets.filter((a) => a.flagged).map((a) => a.name).sort(), [...flagged].sort());
  const audit = detail.audit.find((a) => a.decision === 'reject');
  assert.ok(audit, 'an audit row for the rejection');
  assert.deepEqual([...audit.flagged].sort(), [...flagged].sort());
  assert.equal(audit.source, 'browser');

  // Retry remakes the two flagged images; approving them puts a second decision in the record.
  await page.locator('[data-testid=retry]').click();
  await page.locator('[data-testid=task-status][data-status=assets_ready]').waitFor();
  await page.locator('[data-testid=approve-all]').click();
  await page.locator('[data-testid=card]').first().waitFor(); // no other task waits: back to the board
  await openFromBoard(page, id);
  await page.locator('[data-testid=open-history]').click();
  await history.waitFor();
  const decisions = await history.locator('[data-testid=history-decision]').allTextContents();
  assert.equal(decisions.length, 3, `decisions: ${decisions}`);
  assert.match(decisions[0], /Approved at Assets Ready.*\(browser\)/s);
  assert.match(decisions[1], /Retried at Asset Error.*\(browser\)/s);
  assert.match(decisions[2], /Rejected at Assets Ready.*\(browser\)/s);
  assert.match(await history.locator('[data-testid=history-gate]').first().textContent(), /Assets Ready: .* over 2 visits/);

  // The review record exports as CSV: one row per decision, as `reviewdesk task show --json` has them.
  const download = page.waitForEvent('download');
  await history.locator('[data-testid=export-csv]').click();
  const saved = await download;
  assert.match(saved.suggestedFilename(), /^reviewdesk-audit-[A-Za-z0-9_]+-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
  const [header, ...rows] = parseCsv(readFileSync(await saved.path(), 'utf8'));
  const shown = JSON.parse(cli(f.env, ['task', 'show', id, '--json'])).audit;
  assert.equal(rows.length, shown.length, 'one row per decision');
  assert.equal(rows.length, 3);
  const col = (row, name) => row[header.indexOf(name)];
  rows.forEach((row, i) => {
    const a = shown[i];
    assert.equal(col(row, 'task_id'), id);
    assert.equal(col(row, 'decision'), a.decision);
    assert.equal(col(row, 'source'), a.source);
    assert.equal(col(row, 'reason'), a.reason ?? '');
    assert.equal(col(row, 'flagged'), a.flagged.join(';'));
    assert.equal(col(row, 'correlation_id'), a.correlation_id);
    assert.equal(Date.parse(col(row, 'time')), Date.parse(a.created_at));
  });
  await history.locator('[data-testid=export-said]', { hasText: '3 decisions' }).waitFor();
  assert.deepEqual(f.errors, [], 'no uncaught page errors');
});

test('approve all with the A key: the task leaves the gate and composites begin', async (t) => {
  // A machine without espeak-ng: the status bar says so from the start, naming the package.
  const f = await fixture('approve', { env: { REVIEWDESK_ESPEAK_NG: '/nonexistent/espeak-ng' } });
  t.after(() => f.close());
  const { page, server } = f;
  const [id] = f.ids;

  await page.goto(server.url);
  await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
  const missing = page.locator('[data-testid=missing-programs]');
  await missing.waitFor();
  assert.match(await missing.innerText(), /espeak-ng is not installed/);
  const why = await missing.getAttribute('title');
  assert.match(why, /sudo apt-get install espeak-ng/);
  assert.match(why, /built-in audio step cannot run/);
  await openFromBoard(page, id);
  // Record every status the UI shows for the card (the updates arrive over SSE, no reload).
  await page.evaluate(() => {
    window.__seen = [];
    const note = () => {
      for (const el of document.querySelectorAll('[data-task-id][data-status], [data-testid=task-status]')) {
        const s = el.getAttribute('data-status');
        if (s && window.__seen.at(-1) !== s) window.__seen.push(s);
      }
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  });
  await page.keyboard.press('a');
  await page.locator('[data-testid=toast]', { hasText: 'Assets Approved' }).waitFor();
  const decision = await page.evaluate(() => performance.getEntriesByName('decision', 'measure').at(-1)?.duration);
  assert.ok(typeof decision === 'number', 'decision-visible measured');

  // Wait (on a condition) until the card has gone past the composites step's start.
  await page.waitForFunction(
    ([tid, order]) => {
      const el = document.querySelector(`[data-testid=card][data-task-id="${tid}"]`);
      return el && order.indexOf(el.dataset.status) >= order.indexOf('generating_composites');
    },
    [id, PIPELINE],
    { timeout: 60_000 },
  );
  const seen = await page.evaluate(() => window.__seen);
  assert.ok(seen.includes('assets_approved') || seen.includes('generating_composites'), `statuses seen: ${seen}`);
  assert.ok(!seen.slice(seen.indexOf('assets_approved')).includes('assets_ready'), `never back at the gate: ${seen}`);
  const detail = await getJson(`${server.url}/api/tasks/${id}`);
  assert.ok(PIPELINE.indexOf(detail.task.status) >= PIPELINE.indexOf('generating_composites'), detail.task.status);
  assert.ok(detail.audit.some((a) => a.decision === 'approve' && a.source === 'browser'));
  assert.deepEqual(f.errors, []);
});

test('a missing thumbnail and a corrupt asset file show a plain message; the page stays usable', async (t) => {
  const f = await fixture('broken');
  t.after(() => f.close());
  const { page, server, env } = f;
  const [id] = f.ids;
  const { rmSync, truncateSync } = await import('node:fs');
  const { join } = await import('node:path');

  const before = await getJson(`${server.url}/api/tasks/${id}`);
  const noThumb = before.assets[2];
  const corrupt = before.assets[12];
  const v = noThumb.versions.at(-1);
  rmSync(join(env.workspace, v.thumb_path));
  if (v.tile_path) rmSync(join(env.workspace, v.tile_path));
  truncateSync(join(env.workspace, corrupt.file), 100);

  await page.goto(server.url);
  await openFromBoard(page, id);
  const tiles = await tileReport(page);
  assert.equal(tiles.length, 22);
  const broken = tiles.filter((x) => x.broken).map((x) => x.name).sort();
  assert.deepEqual(broken, [noThumb.name, corrupt.name].sort());
  for (const x of tiles.filter((x) => x.broken)) {
    assert.match(x.text, /Image missing or corrupt — regenerate or replace the file/);
  }
  for (const x of tiles.filter((x) => !x.broken)) assert.ok(x.naturalWidth > 0, `${x.name} still fine`);
  await screenshot(page, 'gallery-broken.png');

  // Still usable: open the viewer on the broken one and close it, flag another tile, approve.
  await page.locator(`[data-testid=tile][data-name="${corrupt.name}"] .thumb`).click();
  await page.locator('[data-testid=viewer]').getByText('Image missing or corrupt').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('[data-testid=viewer]').waitFor({ state: 'detached' });
  await page.keyboard.press('ArrowRight');
  const put = page.waitForResponse((r) => r.url().includes('/flag'));
  await page.keyboard.press('f');
  assert.equal((await put).status(), 204);
  await page.locator('[data-testid=approve-all]').click();
  await page.locator('[data-testid=toast]', { hasText: 'Assets Approved' }).waitFor();
  const after = await getJson(`${server.url}/api/tasks/${id}`);
  assert.notEqual(after.task.status, 'assets_ready');
  assert.deepEqual(f.errors, []);
});
