// Browser end-to-end: the media review at the gates after the assets gate. The clips and narration
// are real MP4/MP3 files made by ffmpeg through the pipeline's command executor (the channel file
// configures it, as a creator would), served by a real `reviewdesk serve` and played by Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FFMPEG, QUICK_MEDIA_CHANNEL as CHANNEL, browser, cli, demo, getJson, makeEnv, preflight, screenshot, serve, waitForStatus } from './harness.mjs';

test('Videos Ready: playable clips, a missing one, two flagged and remade; Audio Ready approves; the final gate plays the video and publishes', async (t) => {
  preflight();
  if (!existsSync(FFMPEG)) throw new Error(`${FFMPEG} is missing: apt-get install -y ffmpeg (or set FFMPEG)`);
  const env = makeEnv('media');
  mkdirSync(join(env.env.REVIEWDESK_CONFIG_DIR, 'channels'), { recursive: true });
  writeFileSync(join(env.env.REVIEWDESK_CONFIG_DIR, 'channels', 'default.yaml'), CHANNEL);
  let server;
  let b;
  t.after(async () => {
    await b?.context.close().catch(() => {});
    await server?.stop();
    if (!process.env.KEEP_TMP) rmSync(env.dir, { recursive: true, force: true });
  });

  // Through the real pipeline: assets (built-in) → approve → composites → video (ffmpeg) → gate.
  const id = demo(env);
  cli(env, ['review', 'approve', id]);
  cli(env, ['worker', '--until-idle']);
  server = await serve(env);
  const atGate = await getJson(`${server.url}/api/tasks/${id}`);
  assert.equal(atGate.task.status, 'video_ready', atGate.task.error_log);
  const clips = atGate.outputs.filter((o) => o.step === 'video');
  assert.equal(clips.length, 18);
  assert.ok(clips.every((o) => o.file_state === 'ok'));
  // A clip deleted behind the app's back: its tile must say so instead of a dead player.
  unlinkSync(join(env.workspace, clips[2].file));

  b = await browser(env);
  const { page, errors } = b;
  const clipResponses = [];
  page.on('response', (r) => {
    if (/\/files\/.*\/video\/clip_\d+\.mp4$/.test(r.url())) clipResponses.push({ status: r.status(), headers: r.headers() });
  });
  await page.goto(`${server.url}/#/task/${id}`);
  await page.locator('[data-testid=media-review]').waitFor();
  assert.equal(await page.locator('[data-testid=task-status]').getAttribute('data-status'), 'video_ready');
  assert.equal(await page.locator('[data-testid=gallery]').count(), 0, 'the asset gallery gives way to the clips');
  await page.getByText('Clips (18)', { exact: true }).waitFor();

  const items = page.locator('[data-testid=media-item][data-step=video]');
  assert.equal(await items.count(), 18);
  assert.deepEqual(
    await items.evaluateAll((els) => els.map((e) => e.dataset.item)),
    Array.from({ length: 18 }, (_, i) => `clip_${String(i + 1).padStart(2, '0')}`),
  );
  const missing = page.locator('[data-testid=media-item][data-item=clip_03] [data-testid=media-missing]');
  await missing.waitFor();
  assert.match(await missing.textContent(), /missing/i);
  assert.equal(await page.locator('[data-testid=media-item][data-item=clip_03] video').count(), 0);
  assert.equal(await page.locator('[data-testid=media-video]').count(), 17);
  assert.equal(await page.locator('[data-testid=media-item][data-item=clip_01] [data-testid=media-label]').textContent(), 'Clip 1');
  // Each clip shows its scene's narration line (the scene plan).
  const line1 = await page.locator('[data-testid=media-item][data-item=clip_01] [data-testid=media-line]').textContent();
  assert.equal(line1, atGate.scenes[0].narration);

  // preload=metadata: Chromium fetches each clip's header over HTTP and parses it. readyState >= 1
  // (HAVE_METADATA) with the real duration and size means the file was served with the right type.
  // Waits for the clip checked below (another clip's metadata may come first on a busy machine).
  await page.waitForFunction(
    () => {
      const v = document.querySelector('[data-testid=media-item][data-item=clip_01] video');
      return v && (v.readyState >= 1 || v.error);
    },
    null,
    { timeout: 20_000 },
  );
  const meta = await page.$eval('[data-testid=media-item][data-item=clip_01] video', (v) => ({
    readyState: v.readyState,
    error: v.error?.code ?? null,
    duration: v.duration,
    width: v.videoWidth,
    height: v.videoHeight,
  }));
  assert.equal(meta.error, null);
  assert.ok(meta.readyState >= 1, `clip_01 readyState ${meta.readyState}`);
  assert.ok(Math.abs(meta.duration - 1) < 0.2, `clip_01 lasts about 1 s (${meta.duration})`);
  assert.deepEqual([meta.width, meta.height], [320, 180]);
  // It plays and seeks (seeking needs ranges unless the whole file came at once).
  const played = await page.$eval('[data-testid=media-item][data-item=clip_01] video', async (v) => {
    v.muted = true;
    await v.play();
    v.pause();
    v.currentTime = 0.5;
    await new Promise((r, j) => {
      v.addEventListener('seeked', r, { once: true });
      setTimeout(() => j(new Error('no seeked event')), 10_000);
    });
    return { time: v.currentTime, error: v.error?.code ?? null };
  });
  assert.equal(played.error, null);
  assert.ok(Math.abs(played.time - 0.5) < 0.11, `seeked to ${played.time}`);
  // Chromium asks for media with `Range`; the server answers 206 with a Content-Range.
  const partial = clipResponses.filter((r) => r.status === 206);
  assert.ok(partial.length > 0, `some clip answered 206: ${JSON.stringify(clipResponses.map((r) => r.status))}`);
  assert.match(partial[0].headers['content-range'] ?? '', /^bytes \d+-\d+\/\d+$/);
  assert.equal(partial[0].headers['content-type'], 'video/mp4');

  // Gallery keys have nothing to act on here: Space/Enter/F open or flag no hidden image.
  let flagged = false;
  page.on('request', (r) => {
    if (r.url().includes('/flag')) flagged = true;
  });
  for (const key of ['ArrowRight', 'Space', 'Enter', 'f']) await page.keyboard.press(key);
  assert.equal(await page.locator('[data-testid=viewer]').count(), 0, 'no asset viewer opened');
  assert.equal(flagged, false, 'no asset flagged');
  await screenshot(page, 'media-video-ready.png');

  // F flags the focused clip; a note goes with it; R rejects with the flags, the notes in the feedback.
  for (const item of ['clip_03', 'clip_05']) {
    await page.locator(`[data-testid=media-item][data-item=${item}]`).focus();
    await page.keyboard.press('f');
  }
  assert.equal(await page.locator('[data-testid=media-item][data-flagged=true]').count(), 2);
  await page.locator('[data-testid=media-item][data-item=clip_05] [data-testid=media-flag-note]').fill('too dark');
  await page.locator('[data-testid=media-item][data-item=clip_05] [data-testid=media-flag-note]').press('Tab');
  assert.equal(await page.locator('[data-testid=flag-count]').textContent(), '2 flagged');
  await page.locator('[data-testid=media-item][data-item=clip_01]').focus();
  await page.keyboard.press('r');
  const box = page.locator('[data-testid=feedback]');
  await box.waitFor();
  assert.equal(await box.inputValue(), 'Regenerate Clip 3, Clip 5 (too dark): ');
  assert.match(await page.locator('[data-testid=reject-dialog]').textContent(), /Only the 2 flagged clips will be regenerated: clip_03, clip_05/);
  await box.pressSequentially('the lava should glow');
  const rejected = page.waitForResponse((r) => r.url().endsWith(`/api/tasks/${id}/reject`));
  await page.keyboard.press('Control+Enter');
  assert.equal((await rejected).status(), 200);
  const atError = await waitForStatus(server.url, id, (s) => s === 'video_error', 'rejection');
  const decision = atError.audit.find((a) => a.decision === 'reject');
  assert.deepEqual(decision.flagged, ['clip_03', 'clip_05']);
  assert.match(decision.reason, /Clip 5 \(too dark\): the lava should glow/);
  const before = Object.fromEntries(atError.outputs.filter((o) => o.step === 'video').map((o) => [o.item, o.version]));

  // Retry remakes only the two flagged clips; the others stay version 1.
  cli(env, ['retry', id]);
  const again = await waitForStatus(server.url, id, (s) => s === 'video_ready', 'remaking two clips');
  const versions = Object.fromEntries(again.outputs.filter((o) => o.step === 'video').map((o) => [o.item, o.version]));
  // clip_05 kept its first file as version 1; clip_03's file had been deleted, so it is made anew.
  assert.equal(versions.clip_05, 2);
  assert.equal(again.outputs.find((o) => o.item === 'clip_03').file_state, 'ok');
  assert.equal(Object.values(versions).filter((v) => v === 1).length, 17, JSON.stringify(versions));
  assert.equal(before.clip_01, 1);
  await page.goto(`${server.url}/#/task/${id}`);
  await page.locator('[data-testid=task-status][data-status=video_ready]').waitFor();
  // Version 2 shows its earlier version beside it on request.
  await page.locator('[data-testid=media-item][data-item=clip_05] [data-testid=media-compare]').click();
  const previous = page.locator('[data-testid=media-item][data-item=clip_05] [data-testid=media-previous]');
  await previous.waitFor();
  assert.match(await previous.getAttribute('src'), /video\/versions\/clip_05\.v1\.mp4$/);

  // A approves, as at every gate.
  const approve = page.waitForResponse((r) => r.url().endsWith(`/api/tasks/${id}/approve`));
  await page.keyboard.press('a');
  assert.equal((await approve).status(), 200);
  const after = await waitForStatus(server.url, id, (s) => s !== 'video_ready', 'approval');
  assert.ok(after.audit.some((a) => a.decision === 'approve' && a.gate === 'video_ready'), JSON.stringify(after.audit));

  // The worker makes the narration (ffmpeg again) and stops at Audio Ready: narration rows first.
  await waitForStatus(server.url, id, (s) => s === 'audio_ready', 'narration', 120_000);
  await page.goto(`${server.url}/#/task/${id}`);
  await page.locator('[data-testid=task-status][data-status=audio_ready]').waitFor();
  await page.getByText('Narration (18)', { exact: true }).waitFor();
  const firstGroup = await page.$eval('[data-testid=media-review] section', (s) => s.dataset.step);
  assert.equal(firstGroup, 'audio');
  assert.equal(await page.locator('[data-testid=media-audio]').count(), 18);
  const audio = await page.$eval('[data-testid=media-item][data-item=narration_01] audio', async (a) => {
    const before = a.readyState; // preload=none: nothing fetched until asked
    a.preload = 'metadata';
    a.load();
    await new Promise((r, j) => {
      if (a.readyState >= 1) return r();
      a.addEventListener('loadedmetadata', r, { once: true });
      a.addEventListener('error', () => j(new Error(`audio error ${a.error?.code}`)), { once: true });
      setTimeout(() => j(new Error('no metadata')), 10_000);
    });
    return { before, readyState: a.readyState, duration: a.duration };
  });
  assert.equal(audio.before, 0);
  assert.ok(audio.readyState >= 1);
  assert.ok(audio.duration > 0.8 && audio.duration < 1.3, `narration lasts about 1 s (${audio.duration})`);
  // Each narration row draws its waveform from the backend's peaks.
  await page.locator('[data-testid=media-item][data-item=narration_18] [data-testid=waveform]').waitFor();
  assert.equal(await page.locator('[data-testid=waveform]').count(), 18);
  await screenshot(page, 'media-audio-ready.png');

  // S lists the scenes: at Audio Ready the narration is used already, the sound not yet.
  await page.locator('[data-testid=media-item][data-item=narration_01]').focus();
  await page.keyboard.press('s');
  const scene4 = page.locator('[data-testid=scene][data-scene="4"]');
  await scene4.waitFor();
  assert.equal(await scene4.locator('[data-testid=scene-narration]').getAttribute('readonly'), '');
  const sound = scene4.locator('[data-testid=scene-sfx]');
  assert.equal(await sound.getAttribute('readonly'), null);
  const saved = page.waitForResponse((r) => /\/api\/tasks\/[^/]+\/scenes\/4$/.test(r.url()));
  await sound.fill('heavy rain on the tin roof');
  await sound.blur();
  assert.equal((await saved).status(), 200);
  const edited = await getJson(`${server.url}/api/tasks/${id}`);
  assert.equal(edited.scenes[3].sfx, 'heavy rain on the tin roof');
  await page.keyboard.press('Escape');
  await page.locator('[data-testid=scenes]').waitFor({ state: 'detached' });

  // A approves the narration; the built-in effects and assembly make the final video.
  const approveAudio = page.waitForResponse((r) => r.url().endsWith(`/api/tasks/${id}/approve`));
  await page.keyboard.press('a');
  assert.equal((await approveAudio).status(), 200);
  const final = await waitForStatus(server.url, id, (s) => s === 'final_review', 'effects and assembly', 240_000);
  assert.equal(final.outputs.filter((o) => o.step === 'sfx').length, 18);
  await page.goto(`${server.url}/#/task/${id}`);
  await page.locator('[data-testid=task-status][data-status=final_review]').waitFor();
  const player = page.locator('[data-testid=media-item][data-step=assembly] video');
  await player.waitFor();
  const shown = await player.evaluate(async (v) => {
    v.muted = true;
    await v.play();
    await new Promise((r, j) => {
      const t = setTimeout(() => j(new Error('the final video does not advance')), 10_000);
      v.addEventListener('timeupdate', () => v.currentTime > 0.2 && (clearTimeout(t), r()));
    });
    v.pause();
    return { duration: v.duration, width: v.videoWidth, height: v.videoHeight, error: v.error?.code ?? null };
  });
  assert.equal(shown.error, null);
  assert.deepEqual([shown.width, shown.height], [1920, 1080]);
  // Each scene lasts as long as its narration: 1 s of tone here, about 1.1 s as MP3 (the encoder pads).
  assert.ok(shown.duration > 17.5 && shown.duration < 21, `the final video lasts ${shown.duration} s`);
  // Chapter marks under the final video, one per scene; a click seeks there.
  const chapters = page.locator('[data-testid=chapter]');
  await chapters.first().waitFor();
  assert.equal(await chapters.count(), 18);
  assert.equal(await page.locator('[data-testid=chapter-marks] .mark').count(), 18);
  const third = Number(await chapters.nth(2).getAttribute('data-start'));
  assert.ok(third > 1, `chapter 3 starts at ${third} s`);
  await chapters.nth(2).click();
  await page.waitForFunction(
    (at) => Math.abs(document.querySelector('[data-testid=media-item][data-step=assembly] video').currentTime - at) < 0.5,
    third,
    { timeout: 10_000 },
  );
  await screenshot(page, 'media-final-review.png');
  const approveFinal = page.waitForResponse((r) => r.url().endsWith(`/api/tasks/${id}/approve`));
  await page.keyboard.press('a');
  assert.equal((await approveFinal).status(), 200);
  const done = await waitForStatus(server.url, id, (s) => s === 'published', 'publishing');
  assert.ok(done.outputs.length > 0);
  const publishedDir = join(env.workspace, 'published', 'default');
  const files = readdirSync(publishedDir).sort();
  assert.equal(files.length, 2, files.join(', '));
  assert.ok(files[0].endsWith('.json') && files[1].endsWith('.mp4'), files.join(', '));
  assert.deepEqual(errors, [], 'no uncaught page errors');
});
