// The status page at `/` in a real headless browser (Debian's Chromium through playwright-core): it
// renders one row per URL, and after a receiver starts answering 500 the page, refreshing itself,
// shows that URL failing with its error. A screenshot is written to test-output/status-page.png.
// Without /usr/bin/chromium the test is skipped with the reason, except under CI, where it fails.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import type { Receiver } from '../../demo/receiver.js';
import { PROJECT_ROOT, type BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl, type SourceFixture } from '../helpers/source-fixture.js';

/** Debian's Chromium; UCW_TEST_CHROMIUM names another binary (or a missing one, to see the skip). */
const CHROMIUM = process.env.UCW_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = join(PROJECT_ROOT, 'test-output', 'status-page.png');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const missing = !existsSync(CHROMIUM);
const skip = missing && !process.env.CI ? `${CHROMIUM} is missing (apt-get install -y chromium); CI is not set` : false;

const at = (s: number): string => `2026-03-02 12:01:${String(s).padStart(2, '0')}.000`;

void describe('status page in a browser', () => {
  const env = useIntegrationEnv();
  let src: SourceFixture;
  let rx: Receiver;
  let bridge: BridgeProcess;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let breaking = false;

  before(async () => {
    if (skip) return;
    ({ src, rx } = env);
    await src.reset();
    rx.setResponder((req) =>
      breaking && req.path === '/break' ? { status: 500, body: 'down for test' } : { status: 200 },
    );
    await src.tx(setUrl('AgentLog', rx.urlFor('/log')), setUrl('AgentBreak', rx.urlFor('/break')));
    bridge = env.startBridge({ args: ['--max-attempts', '1000'] });
    await bridge.waitReady();
  });
  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  void test('renders the URL rows, then shows the URL whose receiver fails', { skip, timeout: 120_000 }, async () => {
    assert.ok(!missing, `${CHROMIUM} is missing and CI is set: .ci/run installs it (apt-get install -y chromium)`);
    await src.tx(queueLog({ time: at(1), event: 'AGENTLOGIN', agent: 'ann' }));
    await src.tx(queueLog({ time: at(2), event: 'PAUSE', agent: 'bob', data1: 'Lunch' }));
    profile = mkdtempSync(join(tmpdir(), 'ucw-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const base = `http://127.0.0.1:${bridge.httpPort()}`;
    const row = (path: string, state: string): string => `tr[data-url="${rx.url}${path}"][data-state="${state}"]`;

    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'ucontact-webhooks status');
    // Both receivers answered: each URL has its row, ok, with a last success (the page refreshes itself).
    await page.locator(`${row('/log', 'ok')} >> text=ago`).waitFor({ timeout: 30_000 });
    await page.locator(`${row('/break', 'ok')} >> text=ago`).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#urls tbody tr').count(), 2);
    assert.match(await page.locator('dl').innerText(), /connected\s+yes/);

    breaking = true;
    await src.tx(queueLog({ time: at(3), event: 'PAUSE', agent: 'bob', data1: 'Coffee' }));
    const failing = page.locator(row('/break', 'failing'));
    await failing.waitFor({ timeout: 60_000 });
    const text = await failing.innerText();
    assert.match(text, /failing/);
    assert.match(text, /500 UCW_ERR_DELIVERY_HTTP_STATUS: .*down for test/);
    assert.ok(await page.locator(row('/log', 'ok')).isVisible(), 'the other URL stays ok');

    mkdirSync(join(PROJECT_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
    process.stdout.write(`# status page screenshot: ${SCREENSHOT}\n`);
  });
});
