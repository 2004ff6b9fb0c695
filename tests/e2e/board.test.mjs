// Browser end-to-end: a desk with years of work. 5,000 finished tasks (`reviewdesk history`, made
// directly in the store) and one new task waiting for review: the waiting task is on the board and
// in the review queue, the counts are exact, a finished column pages back with "Show more", and the
// search box finds a task by title; the first paint holds only part of a long column. The page
// preloads the board's first read, and a press on a card asks for its task before the click.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli, fixture } from './harness.mjs';

const columnCount = (page, id) => page.locator(`[data-column=${id}] [data-testid=column-count]`).textContent().then(Number);
const cards = (page, id) => page.locator(`[data-column=${id}] [data-testid=card]`);

test('a board of 5,000 tasks shows the newest waiting one, exact counts, more on demand and a title search', async () => {
  const f = await fixture('board-scale');
  const { page, server, env } = f;
  try {
    const [waiting] = f.ids;
    // 5,000 tasks of years past: 4,000 published, 750 cancelled, 250 drafts.
    cli(env, ['history', '--tasks', '5000']);
    // How many drafts the board's first paint held (counted as it is marked).
    await page.addInitScript(() => {
      const mark = performance.mark.bind(performance);
      performance.mark = (name, ...rest) => {
        if (name === 'board-painted' && window.__draftsAtFirstPaint === undefined) {
          window.__draftsAtFirstPaint = document.querySelectorAll('[data-column=draft] [data-testid=card]').length;
        }
        return mark(name, ...rest);
      };
    });
    await page.goto(server.url);
    await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();

    // The new waiting task is on the board, and "Review next" (J) finds it.
    await page.locator(`[data-column=assets_ready] [data-testid=card][data-task-id="${waiting}"]`).waitFor();
    assert.equal(await columnCount(page, 'assets_ready'), 1);
    assert.match(await page.getByRole('button', { name: /Review next/ }).textContent(), /\(1\)/);

    // Exact counts, in the columns and the tabs.
    assert.equal(await columnCount(page, 'published'), 4000);
    assert.equal(await columnCount(page, 'cancelled'), 750);
    assert.equal(await columnCount(page, 'draft'), 250);
    assert.equal(await page.locator('[data-view=all] .count').textContent(), '5001');
    assert.equal(await page.locator('[data-view=published] .count').textContent(), '4000');
    assert.equal(await page.locator('[data-view=review] .count').textContent(), '1');

    // Every draft (unfinished) is loaded and shown: the first paint holds the cards the window can
    // show, the rest of the column follows right after it ('board-complete').
    await page.waitForFunction(() => performance.getEntriesByName('board-complete').length > 0);
    const atFirstPaint = await page.evaluate(() => window.__draftsAtFirstPaint);
    assert.ok(atFirstPaint > 0 && atFirstPaint < 250, `the first paint held ${atFirstPaint} of the 250 drafts`);
    // ... and every draft the column shows without scrolling was in it.
    const inView = await page.evaluate(() => {
      const column = document.querySelector('[data-column=draft] .cards').getBoundingClientRect();
      return [...document.querySelectorAll('[data-column=draft] [data-testid=card]')].filter(
        (c) => c.getBoundingClientRect().top < Math.min(column.bottom, window.innerHeight),
      ).length;
    });
    assert.ok(inView > 1 && atFirstPaint >= inView, `the first paint held ${atFirstPaint} drafts, ${inView} are in view`);
    assert.equal(await cards(page, 'draft').count(), 250);
    // The finished columns show their latest 50, newest first.
    assert.equal(await cards(page, 'published').count(), 50);
    const titles = await cards(page, 'published').locator('.title').allTextContents();
    assert.match(titles[0], /Archive episode 04999/);
    const more = page.locator('[data-column=published] [data-testid=show-more]');
    assert.match(await more.textContent(), /3950 older/);
    await more.click();
    await page.waitForFunction(() => document.querySelectorAll('[data-column=published] [data-testid=card]').length === 150);
    const after = await cards(page, 'published').locator('.title').allTextContents();
    assert.equal(new Set(after).size, 150, 'no task twice');
    assert.deepEqual(after.slice(0, 50), titles, 'the next page continues below the first');

    // The search box (/) finds one task among 5,000, with its counts; Esc clears it.
    await page.keyboard.press('/');
    await page.keyboard.type('archive episode 00123');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=card]').length === 1);
    assert.match(await page.locator('[data-testid=card] .title').textContent(), /Archive episode 00123/);
    assert.equal(await page.locator('[data-view=all] .count').textContent(), '1');
    await page.keyboard.press('Escape');
    await page.locator(`[data-testid=card][data-task-id="${waiting}"]`).waitFor();
    assert.equal(await page.locator('[data-view=all] .count').textContent(), '5001');
    await page.locator('[data-testid=board-search]').fill('no such title');
    await page.locator('[data-testid=search-empty]').waitFor();
    await page.locator('[data-testid=board-search]').fill('');
    await page.locator('[data-testid=board-search]').press('Enter');

    // J opens the waiting task from the board; Esc goes back to the board as it was left (it stays
    // built behind the gallery): the drafts column scrolled where it was.
    const drafts = page.locator('[data-column=draft] .cards');
    await drafts.evaluate((el) => (el.scrollTop = 2000));
    const scrolled = await drafts.evaluate((el) => el.scrollTop);
    assert.ok(scrolled > 1000, `the drafts column scrolls (${scrolled})`);
    await page.locator('[data-testid=board-search]').blur();
    await page.keyboard.press('j');
    await page.waitForURL(new RegExp(`#/task/${waiting}`));
    await page.locator('[data-testid=gallery]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator(`[data-testid=card][data-task-id="${waiting}"]`).waitFor();
    assert.equal(await drafts.evaluate((el) => el.scrollTop), scrolled);
  } finally {
    await f.close();
  }
});

test('a press on a card asks for its task before the click that opens it', async () => {
  const f = await fixture('board-press');
  const { page, server } = f;
  try {
    const [id] = f.ids;
    await page.goto(`${server.url}/?prefetch=0`);
    const card = page.locator(`[data-testid=card][data-task-id="${id}"]`);
    await card.waitFor();
    const box = await card.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const asked = page.waitForRequest((r) => new URL(r.url()).pathname === `/api/tasks/${id}`);
    await page.mouse.down();
    await asked; // the button is still down: no click yet
    assert.ok(!page.url().includes('#/task/'), 'not opened before the click');
    await page.mouse.up();
    await page.waitForURL(new RegExp(`#/task/${id}`));
  } finally {
    await f.close();
  }
});

test("the page names its first reads to preload, the board's first read takes that answer, and the stream's start does not repeat it", async () => {
  const f = await fixture('board-preload');
  const { page, server } = f;
  try {
    const reads = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/board' || u.searchParams.has('flush')) reads.push(r.url().slice(server.url.length));
    });
    await page.goto(server.url);
    await page.locator(`[data-testid=card][data-task-id="${f.ids[0]}"]`).waitFor();
    await page.locator('[data-testid=stream-state]', { hasText: 'live' }).waitFor();
    // Requests are reported in order: once this one is, any read the page started before it is too.
    const flushed = page.waitForRequest((r) => r.url().endsWith('/?flush=1'));
    await page.evaluate(() => fetch('/?flush=1'));
    await flushed;
    // One board request, the preload (started while the page was parsed): the script's read of the
    // same URL took its answer instead of asking again; and the event stream started where that
    // read had left the log (nothing was logged meanwhile), so the board was not read again.
    assert.deepEqual(reads, ['/api/board?latest=50', '/?flush=1']);
    const initiators = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .filter((e) => new URL(e.name).pathname === '/api/board')
        .map((e) => e.initiatorType),
    );
    assert.deepEqual(initiators, ['link']);
  } finally {
    await f.close();
  }
});
