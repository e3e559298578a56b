import { Readable } from 'node:stream';
import { expect } from 'chai';
import { HttpProblem } from '../../core/http/problem.js';
import { parseConfigFile } from './config-formats.js';
import { readFile } from './import-export.commands.js';

/** A raw body arriving in chunks of `size` bytes (cutting lines and UTF-8 characters). */
const body = (text: string, size: number, length?: number) => {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return { mediaType: 'text/plain', length, stream: Readable.from(chunks) };
};

describe('reading an import file as it streams in (unit)', () => {
  const env = '# @type Integer\nport=80\r\nbanner="ünïcode ✓"\n\nexport last=x # note';
  const properties = 'a.b=1\nlong=first \\\n   second\n! @sensitive\nsecret=ü\\u00e9\nend=\\\n';

  for (const size of [1, 3, 7, 1000]) {
    it(`gives what the whole file gives, in chunks of ${size} bytes`, async () => {
      const lines: unknown[] = [];
      expect(await readFile(body(env, size), 'env', 1000, (l) => lines.push(l))).to.deep.equal(
        parseConfigFile('env', env),
      );
      expect(lines.at(-1)).to.deep.equal({
        phase: 'parsing',
        bytes: Buffer.byteLength(env),
        lines: 5,
        done: true,
      });
      expect(await readFile(body(properties, size), 'properties', 1000, () => {})).to.deep.equal(
        parseConfigFile('properties', properties),
      );
    });
  }

  it('refuses more than the limit with 413 naming it, by Content-Length or as it arrives', async () => {
    for (const length of [Buffer.byteLength(env), undefined]) {
      const error = await readFile(body(env, 4, length), 'env', 20, () => {}).catch((e) => e);
      expect(error).to.be.instanceOf(HttpProblem);
      expect(error.status).to.equal(413);
      expect(error.message).to.include('20 bytes (ConfigService__Import__MaxBytes)');
    }
  });

  it('names the line of a bad one', async () => {
    const error = await readFile(body('a=1\nb=2\nnope\n', 2), 'env', 1000, () => {}).catch(
      (e) => e,
    );
    expect(error.message).to.equal('line 3: expected KEY=value');
    expect(error.line).to.equal(3);
  });
});
