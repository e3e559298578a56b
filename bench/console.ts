/**
 * npm run bench:console: how soon the console is usable, measured in Chromium (Debian's, driven
 * by playwright-core) against a local API on a throw-away database, and the bundle's size.
 *
 * Each run is a fresh browser context (empty cache, no session), and two first pages are timed
 * from the start of the navigation (the browser's own clock):
 *  - the sign-in page: until the console has rendered its form (the `console:interactive` mark);
 *  - signed in by the link `npm run token -- --console` prints: until the configurations grid of
 *    a tenant (KEYS keys in 3 environments) is on screen with its values, which takes the
 *    session check and the grid's reads.
 * Figures, not a test: nothing here passes or fails on a time.
 *
 *   npm run bench:console [-- --runs 11 --keys 50]
 */
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import { buildConsole } from '../src/features/console/build/bundle.js';
import { CONSOLE_DIST } from '../src/features/console/console.assets.js';
import { CHROMIUM } from '../src/features/console/testing/browser.js';
import { buildServices, createApi, createProjector } from '../src/composition.js';
import { loadSettings } from '../src/core/settings/settings.js';
import { signToken } from '../src/core/auth/auth.js';
import {
  commandLine,
  cleanUp,
  createDatabase,
  databaseName,
  deleteRedisKeys,
  integer,
  listen,
  onCleanup,
  redisPrefix,
} from './support.js';

const USAGE = 'usage: npm run bench:console [-- --runs 11 --keys 50]';
const TENANT = 'bench-console';
const ENVIRONMENTS = ['Development', 'Staging', 'Production'];

/** Records (in the page) when the grid first shows a value: a MutationObserver, no polling. */
const GRID_PROBE = `
  new MutationObserver((_m, observer) => {
    if (document.querySelector('table.grid td .value')) {
      performance.mark('bench:grid');
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const line = (label: string, xs: number[]) =>
  `  ${label.padEnd(44)} median ${median(xs).toFixed(0).padStart(5)} ms   ` +
  `min ${Math.min(...xs)
    .toFixed(0)
    .padStart(5)} ms   max ${Math.max(...xs)
    .toFixed(0)
    .padStart(5)} ms   ` +
  `(${xs.map((x) => x.toFixed(0)).join(', ')})`;

async function bundleSizes() {
  const { sizes } = await buildConsole();
  for (const [name, bytes] of Object.entries(sizes)) {
    const gz = gzipSync(await readFile(path.join(CONSOLE_DIST, 'assets', name))).length;
    console.log(
      `  ${name.padEnd(24)} ${(bytes / 1024).toFixed(1).padStart(6)} kB minified, ` +
        `${(gz / 1024).toFixed(1).padStart(5)} kB gzipped`,
    );
  }
}

async function main(runs: number, keys: number) {
  console.log('bundle (npm run build:console):');
  await bundleSizes();

  const settings = loadSettings({
    ...process.env,
    ConnectionStrings__PostgreSQL: await createDatabase(),
    ConfigService__RedisKeyPrefix: redisPrefix,
    ASPNETCORE_ENVIRONMENT: 'Development',
    Logging__LogLevel__Default: process.env.Logging__LogLevel__Default ?? 'Warning',
  });
  onCleanup('delete Redis keys', () => deleteRedisKeys(settings));
  const services = await buildServices(settings);
  onCleanup('close services', () => services.close());
  const ctx = { userId: 'bench', correlationId: `bench-${randomUUID()}` };
  await services.tenantCommands.create(
    { tenantId: TENANT, name: 'Bench', tier: 'Enterprise' },
    ctx,
  );
  // Seeded directly: Production's approval (the default) is for people, not for the seed.
  await services.tenantCommands.setApprovalPolicy(
    { tenantId: TENANT, environment: 'Production', requiredApprovals: 0 },
    ctx,
  );
  for (let i = 0; i < keys; i++) {
    for (const environment of ENVIRONMENTS) {
      await services.configCommands.create(
        {
          tenantId: TENANT,
          environment,
          key: `service.key-${String(i).padStart(3, '0')}`,
          type: 'String',
          value: `value ${i} in ${environment}`,
        },
        ctx,
      );
    }
  }
  const projector = createProjector(services, { idleWaitMs: 200 });
  await projector.catchUpOnce();
  projector.start();
  onCleanup('stop projector', () => projector.stop());
  const api = createApi(services);
  onCleanup('close API', () => api.close());
  const base = `http://127.0.0.1:${await listen(api.server)}`;
  const token = signToken(settings.jwt, { sub: 'bench', roles: ['editor'], tenant_id: TENANT });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  onCleanup('close Chromium', () => browser.close());
  const signIn: number[] = [];
  const grid: number[] = [];
  const errors: string[] = [];
  for (let run = 0; run < runs; run++) {
    for (const what of ['sign-in', 'grid'] as const) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      if (what === 'sign-in') {
        await page.goto(`${base}/ui/`);
        await page.getByLabel('Access token').waitFor();
        signIn.push(
          await page.evaluate(
            () => performance.getEntriesByName('console:interactive')[0]!.startTime,
          ),
        );
      } else {
        await page.addInitScript(GRID_PROBE);
        await page.goto(`${base}/ui/#/signin?token=${token}`);
        await page.locator('table.grid td .value').first().waitFor({ timeout: 30_000 });
        grid.push(
          await page.evaluate(() => performance.getEntriesByName('bench:grid')[0]!.startTime),
        );
      }
      await context.close();
    }
  }
  const [l1, l5, l15] = os.loadavg().map((l) => l.toFixed(1));
  console.log(
    `\nChromium ${browser.version()}, ${runs} runs each, fresh context (cold cache) per run; ` +
      `load average ${l1} / ${l5} / ${l15} on ${os.cpus().length} cores`,
  );
  console.log(line('sign-in page interactive', signIn));
  console.log(line(`signed in by link: grid of ${keys} keys x 3 envs`, grid));
  if (errors.length) console.log(`console errors: ${errors.join('; ')}`);
  console.log(`database ${databaseName} (dropped)`);
}

const { runs, keys } = commandLine(USAGE, () => {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '11' },
      keys: { type: 'string', default: '50' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return { help: true, options: { runs: 0, keys: 0 } };
  return {
    options: { runs: integer('runs', values.runs, 1), keys: integer('keys', values.keys, 1) },
  };
});

let failed = false;
try {
  await main(runs, keys);
} catch (error) {
  failed = true;
  console.error(
    `\nbench:console failed: ${error instanceof Error ? error.message : String(error)}`,
  );
} finally {
  if (!(await cleanUp())) failed = true;
}
if (failed) process.exitCode = 1;
