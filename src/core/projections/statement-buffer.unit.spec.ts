import { expect } from 'chai';
import pg from 'pg';
import { inline } from './statement-buffer.js';

describe('statement buffer: parameters as literals', () => {
  it('quotes each value as pg would send it as text, and NULL for null and undefined', () => {
    expect(
      inline('INSERT INTO t VALUES ($1, $2, $3, $4, $5)', ["it's", 42, true, null, undefined]),
    ).to.equal("INSERT INTO t VALUES ('it''s', '42', 'true', NULL, NULL)");
  });

  it('tells $1 from $10 and repeats a parameter used twice', () => {
    const values = Array.from({ length: 10 }, (_, i) => `v${i + 1}`);
    expect(inline('SELECT $10, $1, $1', values)).to.equal("SELECT 'v10', 'v1', 'v1'");
  });

  it('keeps backslashes as they are (E-string) and turns objects and arrays into their text', () => {
    expect(inline('SELECT $1', ['a\\b'])).to.equal("SELECT  E'a\\\\b'");
    expect(inline('SELECT $1, $2', [{ a: "x'y" }, ['a', 'b c']])).to.equal(
      `SELECT '{"a":"x''y"}', '{"a","b c"}'`,
    );
  });

  it('leaves binary values and missing parameters to a query of their own', () => {
    expect(inline('SELECT $1', [Buffer.from('x')])).to.equal(undefined);
    expect(inline('SELECT $2', ['only one'])).to.equal(undefined);
  });
});

describe('statement buffer: quoting', () => {
  it("quotes as pg's escapeLiteral does", () => {
    for (const text of [
      '',
      'plain',
      "o'neil",
      'back\\slash',
      "both ' and \\ here",
      "'\\'",
      'ü € 😀',
    ]) {
      expect(inline('SELECT $1', [text])).to.equal(`SELECT ${pg.escapeLiteral(text)}`);
    }
  });
});
