/**
 * The console in a real browser (headless Chromium) against the real API, PostgreSQL and Redis:
 * sign in, create a config, edit it, see the diff, roll back, request a Production change as an
 * editor and approve it as another user, watch a canary advance and roll back on reported
 * errors, see a change made through the API appear without a reload, the audit log and time
 * travel. Saves a screenshot of each main page to docs/screenshots/. No console errors allowed.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { Page, Request } from 'playwright-core';
import { startHarness, uniqueTenant, type Harness } from '../../../test/support/harness.js';
import { buildConsole } from './build/bundle.js';
import { launchBrowser, type Browser } from './testing/browser.js';
import { TestOidcProvider } from './testing/oidc-provider.js';

const SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
/** Waits in the browser: generous, since the machine is shared. */
const WAIT = 15_000;

/** Visible form controls that a screen reader could not name. */
const unnamedControls = (page: Page) =>
  page.evaluate(`[...document.querySelectorAll('input, select, textarea, button, a[href]')]
    .filter((el) => el.getClientRects().length > 0 || el.closest('.switch'))
    .filter((el) => !(
      el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') ||
      (el.labels && el.labels.length > 0) || el.textContent.trim() || el.title))
    .map((el) => el.outerHTML.slice(0, 120))`) as Promise<string[]>;

describe('web console in a browser (e2e)', function () {
  this.timeout(120_000);
  let h: Harness;
  let browser: Browser;
  let tenantId: string;
  let editor: string;
  let approver: string;
  let editorPage: Page;
  let configId: string;
  let provider: TestOidcProvider;

  const api = async (token: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    // A change made here is on the read side before the browser is sent to look at it.
    if (typeof json.position === 'string' && tenantId) {
      const read = await fetch(`${h.url}/api/v1/tenants/${tenantId}?minPosition=${json.position}`, {
        headers: { Authorization: `Bearer ${h.admin}` },
      });
      expect(read.status).to.equal(200);
    }
    return json;
  };

  /** Reads until `ok` holds (the browser's change reaches the read side on its own time). */
  const eventuallyAs = async (
    token: string,
    path: string,
    ok: (body: Record<string, unknown>) => boolean,
  ) => {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const body = await api(token, 'GET', path);
      if (ok(body)) return body;
      if (Date.now() > deadline) throw new Error(`${path} never matched: ${JSON.stringify(body)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const eventually = (path: string, ok: (body: Record<string, unknown>) => boolean) =>
    eventuallyAs(editor, path, ok);

  const signIn = async (page: Page, token: string) => {
    await page.goto(`${h.url}/ui/`);
    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: WAIT });
  };

  const nav = (page: Page, name: string) =>
    page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });

  /** Console errors and uncaught exceptions so far (expected ones are taken out by the test). */
  const noConsoleErrors = (where: string) =>
    expect(browser.errors.splice(0), `console errors on ${where}`).to.deep.equal([]);

  /**
   * Each main page is photographed; every control on it must have a name (label), and the
   * browser must have logged no error on it.
   */
  const shot = async (page: Page, name: string) => {
    expect(await unnamedControls(page), `controls without a label on ${name}`).to.deep.equal([]);
    noConsoleErrors(name);
    await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  };

  /** At a phone's width the page itself never scrolls sideways (wide tables scroll inside). */
  const phoneShot = async (page: Page, name: string) => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    )) as number;
    expect(overflow, `${name} scrolls sideways on a phone`).to.be.at.most(0);
    await shot(page, name);
    await page.setViewportSize({ width: 1280, height: 800 });
  };

  before(async function () {
    await mkdir(SCREENSHOTS, { recursive: true });
    const { sizes } = await buildConsole();
    console.log(`      console bundle: ${JSON.stringify(sizes)}`);
    tenantId = uniqueTenant('console');
    provider = new TestOidcProvider(
      { sub: 'olivia', roles: ['editor'], tenant_id: tenantId },
      'config-service-api',
    );
    await provider.start();
    h = await startHarness({
      runProjector: true,
      runWorker: true,
      overrides: {
        JWT__Authority: provider.issuer,
        ConfigService__Console__OidcClientId: 'config-console',
      },
    });
    browser = await launchBrowser();
    await api(h.admin, 'POST', '/api/v1/tenants', { tenantId, name: 'Acme', tier: 'Enterprise' });
    editor = h.token('editor', tenantId, { sub: 'alice' });
    approver = h.token('approver', tenantId, { sub: 'bob' });
  });

  afterEach(async function () {
    // Every page a test visited: no console error it did not expect (and take out itself).
    if (this.currentTest?.state === 'passed') noConsoleErrors(this.currentTest.title);
    if (this.currentTest?.state === 'failed' && editorPage) {
      await editorPage.screenshot({ path: `/tmp/console-failed-${Date.now()}.png` });
      console.log(`      at ${editorPage.url()}`);
    }
  });

  after(async function () {
    await browser?.close();
    await h?.close();
    await provider?.stop();
  });

  it('serves the page with its assets, strict CSP and no cache on the page', async function () {
    const res = await fetch(`${h.url}/ui`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-security-policy')).to.include("script-src 'self'");
    expect(res.headers.get('cache-control')).to.equal('no-cache');
    const html = await res.text();
    const script = /src="(\/ui\/assets\/app-[\w]+\.js)"/.exec(html)?.[1];
    expect(script, html).to.be.a('string');
    const asset = await fetch(`${h.url}${script}`);
    expect(asset.status).to.equal(200);
    expect(asset.headers.get('content-type')).to.match(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).to.include('immutable');
    expect((await fetch(`${h.url}/ui/assets/nope.js`)).status).to.equal(404);
  });

  it('says who the caller is at GET /api/v1/session', async function () {
    expect(await api(editor, 'GET', '/api/v1/session')).to.deep.include({
      userId: 'alice',
      platformAdmin: false,
      tenants: [{ tenantId, roles: ['editor'], environments: null }],
    });
    const limited = h.token(['approver', 'reader'], tenantId, {
      sub: 'pat',
      environments: ['Production'],
    });
    expect((await api(limited, 'GET', '/api/v1/session')).tenants).to.deep.equal([
      { tenantId, roles: ['approver', 'reader'], environments: ['Production'] },
    ]);
    const admin = await api(h.admin, 'GET', '/api/v1/session');
    expect(admin).to.deep.include({ userId: 'root', platformAdmin: true, tenants: [] });
    expect(Date.parse(admin.expiresAt as string)).to.be.greaterThan(Date.now());
    expect((await fetch(`${h.url}/api/v1/session`)).status).to.equal(401);
  });

  it('signs a platform admin in with a token and lists the tenants', async function () {
    const page = await browser.page();
    await page.goto(`${h.url}/ui/`);
    // The first page is interactive once the sign-in form is there.
    await page.getByLabel('Access token').waitFor();
    // The console marks its first render; marks count from the start of the navigation.
    const ms = await page.evaluate(() =>
      Math.round(performance.getEntriesByName('console:interactive')[0]!.startTime),
    );
    console.log(`      sign-in page interactive after ${ms} ms`);
    await page.getByLabel('Access token').fill('not a token');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText(/Invalid token/).waitFor();
    // The refused token is the only error the browser saw (it logs the 401 it was answered).
    expect(browser.errors.splice(0).filter((e) => !e.includes('status of 401'))).to.deep.equal([]);
    await signIn(page, h.admin);
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.locator(`tr[data-tenant="${tenantId}"]`).waitFor({ timeout: WAIT });
    // Create one with the form, then suspend it (with a confirmation).
    const other = uniqueTenant('console-b');
    await page.getByText('New tenant').click();
    await page.getByLabel('Id', { exact: true }).fill(other);
    await page.getByLabel('Name', { exact: true }).fill('Beta');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    const row = page.locator(`tr[data-tenant="${other}"]`);
    await row.waitFor({ timeout: WAIT });
    await row.getByRole('button', { name: 'Suspend' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Suspend' }).click();
    await row.getByText('Suspended').waitFor({ timeout: WAIT });
    expect(await api(h.admin, 'GET', `/api/v1/tenants/${other}`)).to.include({
      status: 'Suspended',
      tier: 'Standard',
    });
    // Tier and quotas, then delete it (with a confirmation).
    await page.getByLabel(`Tier of ${other}`).selectOption('Professional');
    await row.getByLabel('Maximum configurations').fill('250');
    await row.getByLabel('Maximum environments').fill('4');
    await row.getByRole('button', { name: 'Set' }).click();
    await eventuallyAs(h.admin, `/api/v1/tenants/${other}`, (t) => t.maxEnvironments === 4);
    expect(await api(h.admin, 'GET', `/api/v1/tenants/${other}`)).to.include({
      tier: 'Professional',
      maxConfigurations: 250,
      maxEnvironments: 4,
    });
    await shot(page, 'tenants');
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached', timeout: WAIT });
    expect(await api(h.admin, 'GET', `/api/v1/tenants/${other}`)).to.include({
      status: 'Deleted',
    });
    await page.close();
  });

  it('signs in with the identity provider (authorization code + PKCE)', async function () {
    const page = await browser.page();
    await page.goto(`${h.url}/ui/`);
    await page.getByRole('button', { name: 'Sign in with your identity provider' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: WAIT });
    expect(provider.exchanges).to.deep.equal([{ clientId: 'config-console', verified: true }]);
    expect(await page.locator('header .who').innerText())
      .to.include('olivia')
      .and.include('editor');
    // Neither the code nor the state stays in the address.
    expect(page.url()).not.to.match(/code=|state=/);
    await page.getByText('This tenant has no configurations yet.').waitFor({ timeout: WAIT });
    await page.close();
  });

  it('shows an editor the empty tenant, then creates a configuration', async function () {
    editorPage = await browser.page();
    await signIn(editorPage, editor);
    await editorPage.getByText('This tenant has no configurations yet.').waitFor();
    await editorPage.getByRole('link', { name: 'New configuration' }).click();
    await editorPage.getByLabel('Key').fill('checkout.timeout');
    await editorPage.getByLabel('Type').selectOption('Integer');
    await editorPage.getByLabel('Value').fill('30');
    await editorPage.getByLabel('Tags (comma-separated)').fill('checkout, timeouts');
    await editorPage.getByRole('button', { name: 'Create' }).click();
    await editorPage.getByText('v1', { exact: true }).first().waitFor({ timeout: WAIT });
    configId = decodeURIComponent(editorPage.url().split('/c/')[1]!);
    expect(configId).to.match(/^cfg_/);
  });

  it('edits the value, shows the diff, and rolls back with a confirmation', async function () {
    const page = editorPage;
    await page.getByLabel('Value (Integer)').fill('45');
    await page.getByLabel('Why (change description)').fill('slow upstream');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved as version 2.').waitFor({ timeout: WAIT });
    const diff = page.getByRole('figure', { name: 'Changes in version 2' });
    await diff.waitFor({ timeout: WAIT });
    expect(await diff.locator('tr.diff-changed td.old').innerText()).to.equal('30');
    expect(await diff.locator('tr.diff-changed td.new').innerText()).to.equal('45');
    await shot(page, 'config-history');

    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    const dialog = page.getByRole('dialog', { name: /Roll back checkout.timeout to version 1/ });
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page.locator('tr[data-version="3"]').waitFor({ timeout: WAIT });
    expect(await page.locator('tr[data-version="3"]').innerText()).to.include('RolledBack');
    const current = await eventually(`/api/v1/configs/${configId}`, (c) => c.version === 3);
    expect(current).to.include({ version: 3, value: '30' });
  });

  it('shows a change made through the API without a reload', async function () {
    const page = editorPage;
    await nav(page, 'Configurations').click();
    const cell = page.locator('td[data-env="Development"][data-key="checkout.timeout"]');
    await cell.getByText('v3').waitFor({ timeout: WAIT });
    const marker = await page.evaluate(
      () => ((globalThis as unknown as { marker: number }).marker = 42),
    );
    await api(editor, 'PUT', `/api/v1/configs/${configId}`, { value: 60, expectedVersion: 3 });
    await cell.getByText('v4').waitFor({ timeout: WAIT });
    expect(await cell.locator('.value').innerText()).to.equal('60');
    // Same document: nothing reloaded it.
    expect(
      await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker),
    ).to.equal(marker);
    await shot(page, 'configs');
    await phoneShot(page, 'configs-phone');
  });

  it('requests a Production change as an editor and has another user approve it', async function () {
    const page = editorPage;
    await page.getByRole('link', { name: 'New configuration' }).click();
    await page.getByLabel('Key').fill('checkout.retries');
    await page.getByLabel('Environment').fill('Production');
    await page.getByLabel('Type').selectOption('Integer');
    await page.getByLabel('Value').fill('3');
    await page.getByText('this creates a change request').waitFor({ timeout: WAIT });
    await page.getByRole('button', { name: 'Request approval' }).click();
    await page.getByText(/Change request .* created/).waitFor({ timeout: WAIT });
    const card = page.locator('li.card').filter({ hasText: 'checkout.retries' });
    await card.waitFor({ timeout: WAIT });
    // Your own request: the button is disabled, and says why.
    expect(await card.getByRole('button', { name: 'Approve' }).isDisabled()).to.equal(true);
    await card.getByText('You made this request: someone else must approve it').waitFor();
    await shot(page, 'change-requests');

    // Bob follows a sign-in link (npm run token -- --console); the token leaves the address.
    const bobPage = await browser.page();
    await bobPage.goto(`${h.url}/ui/#/signin?token=${approver}`);
    await bobPage.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: WAIT });
    expect(bobPage.url()).not.to.include(approver);
    await nav(bobPage, 'Change requests').click();
    const bobCard = bobPage.locator('li.card').filter({ hasText: 'checkout.retries' });
    await bobCard.getByLabel('Comment').fill('looks good');
    await bobCard.getByRole('button', { name: 'Approve' }).click();
    await bobCard.waitFor({ state: 'detached', timeout: WAIT });
    await bobPage.getByRole('button', { name: 'Approved' }).click();
    await bobPage
      .locator('li.card')
      .filter({ hasText: 'checkout.retries' })
      .getByText('looks good')
      .first()
      .waitFor({ timeout: WAIT });
    const page1 = (await api(
      editor,
      'GET',
      `/api/v1/configs?tenantId=${tenantId}&environment=Production`,
    )) as { items: { key: string; value: string; configId: string }[] };
    expect(page1.items.map((c) => [c.key, c.value])).to.deep.equal([['checkout.retries', '3']]);

    // Alice edits the Production value in the console: saving there makes a change request,
    // which Bob rejects with a comment; it moves to the rejected ones.
    await page.goto(`${h.url}/ui/#/t/${tenantId}/c/${page1.items[0]!.configId}`);
    await page
      .getByText('Production needs 1 approval(s): saving creates a change request.')
      .waitFor({
        timeout: WAIT,
      });
    await page.getByLabel('Value (Integer)').fill('5');
    await page.getByLabel('Why (change description)').fill('more retries');
    await page.getByRole('button', { name: 'Request change' }).click();
    await page.getByText(/Change request .* created/).waitFor({ timeout: WAIT });
    await bobPage.getByRole('button', { name: 'Pending' }).click();
    const next = bobPage.locator('li.card').filter({ hasText: 'more retries' });
    await next.getByLabel('Comment').fill('not before the sale', { timeout: WAIT });
    await next.getByRole('button', { name: 'Reject' }).click();
    await next.waitFor({ state: 'detached', timeout: WAIT });
    await bobPage.getByRole('button', { name: 'Rejected' }).click();
    await bobPage
      .locator('li.card')
      .filter({ hasText: 'more retries' })
      .getByText('not before the sale')
      .first()
      .waitFor({ timeout: WAIT });
    await bobPage.close();
  });

  it('follows a canary as it advances, and its roll-back on reported errors', async function () {
    const created = await api(editor, 'POST', '/api/v1/configs', {
      tenantId,
      key: 'search.engine',
      environment: 'Staging',
      type: 'String',
      value: 'solr',
    });
    const page = editorPage;
    await page.goto(`${h.url}/ui/#/t/${tenantId}/c/${created.configId as string}`);
    await page.getByLabel('Value (String)').fill('elastic');
    await page.getByLabel('as a canary').check();
    await page.getByLabel('Steps (%)').fill('5, 10, 20, 30, 40, 50, 60, 70, 80, 100');
    await page.getByLabel('Bake time (s)').fill('2');
    // What the page asks the API about deployments: the stream, not a poll.
    const calls: string[] = [];
    const onRequest = (r: Request) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/api/v1/deployments/')) calls.push(url.pathname);
    };
    page.on('request', onRequest);
    await page.getByRole('button', { name: 'Start canary' }).click();
    await page.waitForURL(/#\/t\/[^/]+\/d\//, { timeout: WAIT });
    const deploymentId = decodeURIComponent(page.url().split('/d/')[1]!);
    await page.getByTestId('live-state').getByText('● live').waitFor({ timeout: WAIT });
    // It advances by itself (the worker's step jobs), and the page follows on the stream.
    await page.locator('ol.steps li.done').nth(1).waitFor({ timeout: 30_000 });
    const reads = calls.filter((c) => c === `/api/v1/deployments/${deploymentId}`);
    expect(reads.length, calls.join('\n')).to.be.at.most(1);
    expect(calls).to.include(`/api/v1/deployments/${deploymentId}/events`);

    // Pause and resume from the page.
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByTestId('deployment-status').getByText('Paused').waitFor({ timeout: WAIT });
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByTestId('deployment-status').getByText('InProgress').waitFor({ timeout: WAIT });
    // Apps report what they served: each side's error rate appears without a reload.
    await api(editor, 'POST', `/api/v1/deployments/${deploymentId}/metrics`, {
      requests: 100,
      errors: 1,
      side: 'stable',
    });
    await page
      .locator('tr[data-side="stable"]')
      .getByText('1.0%')
      .first()
      .waitFor({ timeout: WAIT });
    await shot(page, 'deployment');
    const report = await api(editor, 'POST', `/api/v1/deployments/${deploymentId}/metrics`, {
      requests: 200,
      errors: 50,
      side: 'canary',
    });
    expect(report.rolledBack, JSON.stringify(report)).to.equal(true);
    await page.getByTestId('deployment-status').getByText('RolledBack').waitFor({ timeout: WAIT });
    await page.getByTestId('rollback-reason').waitFor();
    expect(await page.getByTestId('rollback-reason').innerText()).to.match(/automatically/);
    expect(await page.locator('tr[data-side="canary"]').innerText()).to.include('25.0%');
    page.off('request', onRequest);
  });

  it('lists deployments live, promotes a canary from its page and rolls it back', async function () {
    const created = await api(editor, 'POST', '/api/v1/configs', {
      tenantId,
      key: 'search.boost',
      environment: 'Staging',
      type: 'Number',
      value: 1.5,
    });
    const page = editorPage;
    await nav(page, 'Deployments').click();
    await page.getByRole('table', { name: 'Deployments' }).waitFor({ timeout: WAIT });
    // Started through the API: the list shows it without a reload, and follows its metrics.
    const started = await api(editor, 'POST', '/api/v1/deployments', {
      configId: created.configId,
      value: 2,
      strategy: 'Canary',
      steps: [10, 50, 100],
      bakeTimeSeconds: 600,
    });
    const row = page.locator(`tr[data-deployment="${started.deploymentId as string}"]`);
    await row.getByText('InProgress').waitFor({ timeout: WAIT });
    await page.getByTestId('live-state').getByText('● live').waitFor({ timeout: WAIT });
    await shot(page, 'deployments');
    await row.getByRole('link', { name: 'search.boost' }).click();
    await page.getByRole('button', { name: 'Promote' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Promote' }).click();
    await page.getByTestId('deployment-status').getByText('Completed').waitFor({ timeout: WAIT });
    await phoneShot(page, 'deployment-phone');
    const done = await eventually(
      `/api/v1/configs/${created.configId as string}`,
      (c) => c.version === 2,
    );
    expect(done).to.include({ value: '2', version: 2 });
    // And rolled back by hand, with a reason: the previous value comes back as version 3.
    await page.getByRole('button', { name: 'Roll back' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').fill('p99 went up');
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page.getByTestId('deployment-status').getByText('RolledBack').waitFor({ timeout: WAIT });
    expect(await page.getByTestId('rollback-reason').innerText()).to.equal('p99 went up');
    const back = await eventually(
      `/api/v1/configs/${created.configId as string}`,
      (c) => c.version === 3,
    );
    expect(back).to.include({ value: '1.5', version: 3 });
  });

  it('edits JSON with its errors inline, deletes and restores, and keeps secrets hidden', async function () {
    await api(editor, 'PUT', `/api/v1/tenants/${tenantId}/schemas/retry-policy`, {
      schema: {
        type: 'object',
        required: ['maxAttempts'],
        properties: { maxAttempts: { type: 'integer', minimum: 1, maximum: 10 } },
      },
    });
    const created = await api(editor, 'POST', '/api/v1/configs', {
      tenantId,
      key: 'checkout.retry',
      environment: 'Development',
      type: 'JSON',
      schemaId: 'retry-policy',
      value: { maxAttempts: 3 },
    });
    const page = editorPage;
    await page.goto(`${h.url}/ui/#/t/${tenantId}/c/${created.configId as string}`);
    const editorBox = page.getByLabel('Value (JSON)');
    await editorBox.fill('{"maxAttempts": ');
    await page.getByText(/^Not valid JSON/).waitFor();
    expect(await editorBox.getAttribute('aria-invalid')).to.equal('true');
    await editorBox.fill('{"maxAttempts": 50}');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(/Does not match schema retry-policy v1: \/maxAttempts/).waitFor({
      timeout: WAIT,
    });
    // The refusal is the only error the browser saw (it logs the 422 it was answered).
    expect(browser.errors.splice(0).filter((e) => !e.includes('status of 422'))).to.deep.equal([]);

    // Delete (confirmed), then restore.
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText('deleted', { exact: true }).waitFor({ timeout: WAIT });
    await page.getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('button', { name: 'Delete' }).waitFor({ timeout: WAIT });
    const restored = await eventually(
      `/api/v1/configs/${created.configId as string}`,
      (c) => c.version === 3,
    );
    expect(restored).to.include({ deleted: false, version: 3 });

    const secret = await api(editor, 'POST', '/api/v1/configs', {
      tenantId,
      key: 'payments.api-key',
      environment: 'Development',
      type: 'String',
      value: 'sk-live-123',
      isSensitive: true,
    });
    await page.goto(`${h.url}/ui/#/t/${tenantId}/c/${secret.configId as string}`);
    await page.getByRole('button', { name: 'Show and edit the sensitive value' }).click();
    expect(await page.getByLabel('Value (String)').inputValue()).to.equal('sk-live-123');
    await nav(page, 'Configurations').click();
    const cell = page.locator('td[data-env="Development"][data-key="payments.api-key"]');
    expect(await cell.locator('.value').innerText({ timeout: WAIT })).to.equal('********');
  });

  it('edits a boolean with a switch; a reader sees it all disabled, and why', async function () {
    const flag = await api(editor, 'POST', '/api/v1/configs', {
      tenantId,
      key: 'feature.dark-mode',
      environment: 'Development',
      type: 'Boolean',
      value: false,
    });
    const url = `${h.url}/ui/#/t/${tenantId}/c/${flag.configId as string}`;
    const page = editorPage;
    await page.goto(url);
    const toggle = page.getByRole('switch');
    await toggle.waitFor({ timeout: WAIT });
    expect(await toggle.isChecked()).to.equal(false);
    // Keyboard: focus the switch and press space.
    await toggle.focus();
    await page.keyboard.press('Space');
    expect(await toggle.isChecked()).to.equal(true);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved as version 2.').waitFor({ timeout: WAIT });
    const saved = await eventually(
      `/api/v1/configs/${flag.configId as string}`,
      (c) => c.version === 2,
    );
    expect(saved).to.include({ value: 'true', version: 2 });

    const readerPage = await browser.page();
    await signIn(readerPage, h.token('reader', tenantId, { sub: 'rita' }));
    await readerPage.getByRole('table', { name: /Configurations/ }).waitFor({ timeout: WAIT });
    expect(await readerPage.getByRole('link', { name: 'New configuration' }).count()).to.equal(0);
    await readerPage.goto(url);
    const save = readerPage.getByRole('button', { name: 'Save' });
    await save.waitFor({ timeout: WAIT });
    expect(await save.isDisabled()).to.equal(true);
    expect(await save.getAttribute('title')).to.equal('Your role cannot change configurations');
    expect(await readerPage.getByRole('switch').isDisabled()).to.equal(true);
    await readerPage.close();
  });

  it('shows the audit log, filtered, and an environment as of a time', async function () {
    const page = editorPage;
    await nav(page, 'Audit log').click();
    await page.getByRole('table', { name: 'Audit log' }).waitFor({ timeout: WAIT });
    await page.getByLabel('Event type').fill('ConfigurationRolledBack');
    await page.getByRole('button', { name: 'Filter' }).click();
    // The roll-back from the history page, and the completed canary's reverted by hand.
    await page.getByText('Page 1 of 1 (2 entries)').waitFor({ timeout: WAIT });
    await page.getByLabel('Event type').fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText(/Page 1 of \d+ \(\d{2,} entries\)/).waitFor({ timeout: WAIT });
    await shot(page, 'audit');

    await nav(page, 'Time travel').click();
    await page.getByLabel('Environment').selectOption('Development');
    const now = new Date(Date.now() + 1000).toISOString().slice(0, 19); // the browser is in UTC
    await page.getByLabel('As of').fill(now);
    await page.getByRole('button', { name: 'Show' }).click();
    const table = page.getByRole('table', { name: /Development as of/ });
    await table.waitFor({ timeout: WAIT });
    expect(await table.innerText())
      .to.include('checkout.timeout')
      .and.include('60');
    await shot(page, 'time-travel');
  });

  it('filters the grid by search and tag, and says clearly when something is missing', async function () {
    const page = editorPage;
    await nav(page, 'Configurations').click();
    const cells = (key: string) => page.locator(`td[data-key="${key}"]`);
    await cells('search.engine').first().waitFor({ timeout: WAIT });
    // One column per declared environment, those without a key yet included.
    await api(h.admin, 'POST', `/api/v1/tenants/${tenantId}/environments`, { name: 'QA' });
    await page.reload();
    await page.locator('thead th[scope="col"]', { hasText: 'QA' }).waitFor({ timeout: WAIT });
    const { environments } = (await api(
      editor,
      'GET',
      `/api/v1/tenants/${tenantId}/environments`,
    )) as { environments: { name: string }[] };
    const headers = (await page.locator('thead th[scope="col"]').allTextContents()).slice(1);
    expect(
      headers.map((h) => environments.find((e) => h.startsWith(e.name))?.name),
    ).to.have.members(environments.map((e) => e.name));
    await page.getByLabel('Search keys').fill('search.');
    await cells('checkout.timeout').first().waitFor({ state: 'detached', timeout: WAIT });
    expect(await cells('search.engine').count()).to.be.greaterThan(0);
    await page.getByLabel('Search keys').fill('');
    await page.getByRole('search').getByLabel('Tag').selectOption('timeouts');
    await cells('search.engine').first().waitFor({ state: 'detached', timeout: WAIT });
    expect(await cells('checkout.timeout').count()).to.be.greaterThan(0);
    await page.getByLabel('Search keys').fill('no-such-key');
    await page.getByText('No key matches the filter.').waitFor({ timeout: WAIT });
    await page.getByRole('search').getByLabel('Tag').selectOption('');
    await page.getByLabel('Search keys').fill('');

    // A deployment that does not exist: the API's problem, in words, and nothing else broken.
    await page.goto(`${h.url}/ui/#/t/${tenantId}/d/dep_nope`);
    await page
      .getByRole('alert')
      .getByText("Deployment 'dep_nope' not found")
      .waitFor({ timeout: WAIT });
    // The browser logs the 404s it was answered (the read and the stream): those alone.
    expect(browser.errors.splice(0).filter((e) => !e.includes('status of 404'))).to.deep.equal([]);
    await page.goto(`${h.url}/ui/#/nowhere`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor({ timeout: WAIT });
  });

  it('logged no console errors', function () {
    expect(browser.errors).to.deep.equal([]);
  });
});
