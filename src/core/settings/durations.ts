/**
 * ISO-8601 durations, as the deployment guide writes them (`PT5M`, `P3D`) and as .NET reads them:
 * the designator form `PnYnMnWnDTnHnMnS` (any subset, a decimal fraction — `.` or `,` — on the
 * smallest unit given) and the alternative form `PYYYY-MM-DDThh:mm:ss` (or `PYYYYMMDDThhmmss`).
 * A year counts 365 days and a month 30, as .NET's XmlConvert.ToTimeSpan counts them.
 */
const UNIT_MS = {
  Y: 365 * 86_400_000,
  Mo: 30 * 86_400_000,
  W: 7 * 86_400_000,
  D: 86_400_000,
  H: 3_600_000,
  Mi: 60_000,
  S: 1000,
} as const;

const NUM = String.raw`(\d+(?:[.,]\d+)?)`;
const DESIGNATORS = new RegExp(
  `^P(?:${NUM}Y)?(?:${NUM}M)?(?:${NUM}W)?(?:${NUM}D)?(?:T(?:${NUM}H)?(?:${NUM}M)?(?:${NUM}S)?)?$`,
);
const ALTERNATIVE =
  /^P(\d{4})-?(\d{2})-?(\d{2})(?:T(\d{2}):?(\d{2}):?(\d{2}(?:[.,]\d+)?))?$|^PT(\d{2}):?(\d{2}):?(\d{2}(?:[.,]\d+)?)$/;

/** ISO-8601 duration → milliseconds; throws with a message quoting the value. */
export function parseIsoDuration(value: string): number {
  const text = value.trim().toUpperCase();
  const bad = (why = `is not an ISO-8601 duration such as PT5M, P1D or P1W`) =>
    new Error(`'${value}' ${why}`);
  if (text.startsWith('-')) throw bad('is negative; a duration here must be 0 or more');
  const alt = ALTERNATIVE.exec(text);
  if (alt) {
    const [y, mo, d, h, mi, s] =
      alt[1] !== undefined ? alt.slice(1, 7) : [0, 0, 0, ...alt.slice(7)];
    const n = (x: string | number | undefined) => Number(String(x ?? 0).replace(',', '.'));
    if (n(mo) > 12 || n(h) > 24 || n(mi) > 59 || n(s) > 60) throw bad('has a field out of range');
    return Math.round(
      n(y) * UNIT_MS.Y +
        n(mo) * UNIT_MS.Mo +
        n(d) * UNIT_MS.D +
        n(h) * UNIT_MS.H +
        n(mi) * UNIT_MS.Mi +
        n(s) * UNIT_MS.S,
    );
  }
  const m = DESIGNATORS.exec(text);
  // `P` and `PT` alone, or a `T` with nothing after it, name no amount.
  if (!m || text === 'P' || text.endsWith('T')) throw bad();
  const parts = m.slice(1);
  const given = parts.map((p, i) => [p, i] as const).filter(([p]) => p !== undefined);
  // ISO-8601 allows a fraction on the smallest unit given only (`P1.5DT2H` is not a duration).
  if (given.slice(0, -1).some(([p]) => /[.,]/.test(p!))) {
    throw bad('has a fraction on a unit other than the last');
  }
  const units = [UNIT_MS.Y, UNIT_MS.Mo, UNIT_MS.W, UNIT_MS.D, UNIT_MS.H, UNIT_MS.Mi, UNIT_MS.S];
  let ms = 0;
  for (const [p, i] of given) ms += Number(p!.replace(',', '.')) * units[i]!;
  return Math.round(ms);
}
