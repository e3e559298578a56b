// Verifies the event log's hash chains and the tenants' signed checkpoints (docs/architecture.md,
// "Verifiable history"): the live database, or an events:export file offline.
//   npm run audit:verify -- [--file <export.ndjson>] [--public-key <base64>]... [--json]
//   npm run audit:verify -- --print-public-key
// Exit 0: intact. Exit 1: broken (the first broken event is named first), or verification failed.
import { cliArgs, runCli, settingsOrExit } from './run.js';
import { createPool } from '../core/postgres/postgres.js';
import { publicKeyOf } from '../core/event-store/chain.js';
import { verifyChain, type ChainBreak } from '../features/integrity/integrity.verifier.js';
import { fileSource, liveFacts, liveSource } from '../features/integrity/integrity.sources.js';

const USAGE = `usage: npm run audit:verify -- [--file <export.ndjson>] [--public-key <base64>]... [--json]
       npm run audit:verify -- --print-public-key
Checks every event's hash link and every signed checkpoint. Without --file: the database of
ConnectionStrings__PostgreSQL. Trusted checkpoint keys: each --public-key, and the one of
ConfigService__Audit__SigningKey when set. Exits 1 naming the first broken event.`;

const { values: args } = cliArgs(
  {
    file: { type: 'string' },
    'public-key': { type: 'string', multiple: true },
    'print-public-key': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  } as const,
  USAGE,
);
const settings = settingsOrExit({ requireJwtSecret: false });
const own = settings.audit.signingKey ? publicKeyOf(settings.audit.signingKey) : undefined;
if (args['print-public-key']) {
  if (!own) {
    process.stderr.write('ConfigService__Audit__SigningKey is not set\n');
    process.exit(2);
  }
  process.stdout.write(`${own}\n`);
  process.exit(0);
}

const describe = (b: ChainBreak) =>
  `${b.streamId} revision ${b.revision} (position ${b.position}${b.eventId ? `, event ${b.eventId}` : ''}): ${b.problem}` +
  (b.expected ? `\n    expected ${b.expected}` : '') +
  (b.found ? `\n    found    ${b.found}` : '');

await runCli('audit:verify', async () => {
  const trustedKeys = [...(args['public-key'] ?? []), ...(own ? [own] : [])];
  const pool = args.file ? undefined : createPool(settings.postgres.config, 2);
  try {
    const report = pool
      ? await verifyChain(liveSource(pool), { ...(await liveFacts(pool)), trustedKeys })
      : await verifyChain(fileSource(args.file!), { trustedKeys });
    if (args.json) {
      process.stdout.write(
        `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
      );
    } else {
      const out: string[] = [
        `${report.events} events in ${report.streams} streams; ${report.chained} chained ` +
          `(chaining began after position ${report.chainStartedAfter}); ` +
          `${report.checkpoints.verified} signed checkpoints verified` +
          (report.checkpoints.tenants.length
            ? ` (tenants: ${report.checkpoints.tenants.join(', ')})`
            : ''),
      ];
      for (const w of report.warnings) out.push(`warning: ${w}`);
      if (report.ok) out.push('OK: every chained event and checkpoint verifies');
      else {
        out.push(`BROKEN: first broken event: ${describe(report.breaks[0]!)}`);
        for (const b of report.breaks.slice(1)) out.push(`also: ${describe(b)}`);
      }
      process.stdout.write(`${out.join('\n')}\n`);
    }
    if (!report.ok) process.exitCode = 1;
  } finally {
    await pool?.end();
  }
});
