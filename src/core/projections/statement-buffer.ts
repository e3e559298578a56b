/**
 * Fewer round trips for projections that write row by row: the writes of a batch's events are
 * collected and sent together, as one multi-statement query, instead of one round trip each.
 * Same statements, same order, same transaction: the rows are the ones the row-by-row writes
 * would give. A read (SELECT, or a write with RETURNING) first sends what was collected, then
 * runs on its own, so it sees every earlier write.
 *
 * Parameters become SQL literals: pg's own conversion of each value (`prepareValue`, as for a
 * parameter sent as text), quoted with `escapeLiteral`. An untyped literal takes its type from
 * its context as a parameter does. Values pg would send as binary (Buffers) are not collected:
 * their statement runs on its own.
 */
import pg from 'pg';

/** pg's conversion of a parameter to its text form (in pg, missing from its type definitions). */
const prepareValue = (pg as unknown as { utils: { prepareValue(v: unknown): unknown } }).utils
  .prepareValue;

type Query = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

/** Results of a collected write: nothing to read (a caller needing rows asks with a read). */
const NO_ROWS = Object.freeze({
  command: '',
  rowCount: null,
  oid: 0,
  fields: [],
  rows: [],
}) as unknown as pg.QueryResult;

const READ = /^\s*(SELECT|WITH|VALUES|TABLE|SHOW)\b|\bRETURNING\b/i;

export class StatementBuffer {
  private statements: string[] = [];
  private bytes = 0;
  /** The client to hand to row-by-row code: its writes are collected. */
  readonly client: pg.PoolClient;

  constructor(
    private readonly target: pg.PoolClient,
    /** Sent once this much SQL is collected (and at `flush`). */
    private readonly maxBytes = 512 * 1024,
  ) {
    const query: Query = async (text, values) => {
      if (typeof text !== 'string' || READ.test(text)) {
        await this.flush();
        return (target.query as Query)(text, values);
      }
      const inlined = inline(text, values ?? []);
      if (inlined === undefined) {
        await this.flush();
        return (target.query as Query)(text, values);
      }
      this.statements.push(inlined);
      this.bytes += inlined.length;
      if (this.bytes >= this.maxBytes) await this.flush();
      return NO_ROWS;
    };
    this.client = new Proxy(target, {
      get: (t, property) =>
        property === 'query' ? query : (Reflect.get(t, property, t) as unknown),
    });
  }

  /** Sends what was collected (one round trip). */
  async flush(): Promise<void> {
    if (!this.statements.length) return;
    const sql = this.statements.join(';\n');
    this.statements = [];
    this.bytes = 0;
    await this.target.query(sql);
  }
}

/** pg's escapeLiteral, without its loop over every character (values can be long). */
function quote(text: string): string {
  const quoted = `'${text.replaceAll("'", "''")}'`;
  return text.includes('\\') ? ` E${quoted.replaceAll('\\', '\\\\')}` : quoted;
}

/** The statement with its parameters as literals; undefined when a value cannot be one. */
export function inline(text: string, values: readonly unknown[]): string | undefined {
  const literals: string[] = [];
  for (const value of values) {
    const prepared = prepareValue(value);
    if (prepared === null) literals.push('NULL');
    else if (typeof prepared === 'string') literals.push(quote(prepared));
    else return undefined;
  }
  let missing = false;
  const sql = text.replace(/\$(\d+)/g, (_, n: string) => {
    const literal = literals[Number(n) - 1];
    if (literal === undefined) missing = true;
    return literal ?? '';
  });
  return missing ? undefined : sql;
}
