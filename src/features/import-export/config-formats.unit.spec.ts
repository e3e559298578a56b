import { expect } from 'chai';
import { normaliseValue } from '../configs/config-values.js';
import {
  FORMATS,
  FormatError,
  parseConfigFile,
  renderConfigFile,
  type ExportedConfig,
  type Format,
} from './config-formats.js';

const configs: ExportedConfig[] = [
  {
    key: 'timeout',
    type: 'Integer',
    value: '30',
    isSensitive: false,
    description: 'd',
    tags: ['http'],
  },
  { key: 'ratio', type: 'Number', value: '0.25', isSensitive: false, description: null, tags: [] },
  {
    key: 'enabled',
    type: 'Boolean',
    value: 'false',
    isSensitive: false,
    description: null,
    tags: [],
  },
  {
    key: 'limits',
    type: 'JSON',
    value: '{"a":[1,2],"b":"x y"}',
    isSensitive: false,
    description: null,
    tags: [],
  },
  {
    key: 'svc/db:url',
    type: 'String',
    value: ' spaced = #not a comment: ünïcode\nsecond line\t\\ ',
    isSensitive: false,
    description: null,
    tags: [],
  },
  { key: 'empty', type: 'String', value: '', isSensitive: false, description: null, tags: [] },
  { key: 'digits', type: 'String', value: '42', isSensitive: false, description: null, tags: [] },
  {
    key: 'api.key',
    type: 'String',
    value: '********',
    isSensitive: true,
    description: null,
    tags: [],
  },
];

function parseError(format: Format, content: string): FormatError {
  try {
    parseConfigFile(format, content);
  } catch (error) {
    if (error instanceof FormatError) return error;
    throw error;
  }
  throw new Error('parsed without error');
}

describe('configuration file formats', function () {
  for (const format of FORMATS) {
    it(`${format}: every key comes back with its type and exact value`, function () {
      const text = renderConfigFile(format, configs);
      const entries = parseConfigFile(format, text);
      expect(entries.map((e) => e.key)).to.deep.equal(configs.map((c) => c.key).sort());
      for (const c of configs) {
        const e = entries.find((x) => x.key === c.key)!;
        expect(e.type, c.key).to.equal(c.type);
        expect(normaliseValue(e.type!, e.value), c.key).to.equal(c.value);
        expect(e.isSensitive ?? false, c.key).to.equal(c.isSensitive);
        expect(e.description ?? null, c.key).to.equal(c.description);
        expect(e.tags ?? [], c.key).to.deep.equal(c.tags);
        expect(text.split('\n')[e.line - 1], `${c.key}'s line`).to.include(
          format === 'properties' ? c.key.replace(/:/g, '\\:') : c.key,
        );
      }
    });
  }

  it('reads bare values, inferring a type only for what a new key would need', function () {
    const json = parseConfigFile(
      'json',
      '{\n  "a": 1,\n  "b": 1.5,\n  "c": true,\n  "d": "x",\n  "e": {"k": 1}\n}',
    );
    expect(json.map((e) => [e.key, e.type, e.line])).to.deep.equal([
      ['a', 'Integer', 2],
      ['b', 'Number', 3],
      ['c', 'Boolean', 4],
      ['d', 'String', 5],
      ['e', 'JSON', 6],
    ]);
    const env = parseConfigFile('env', "export A=1 # comment\nB='it is'\n");
    expect(env).to.deep.equal([
      { key: 'A', value: '1', line: 1 },
      { key: 'B', value: 'it is', line: 2 },
    ]);
    const props = parseConfigFile('properties', '! comment\nmulti = one \\\n  two\nplain value\n');
    expect(props).to.deep.equal([
      { key: 'multi', value: 'one two', line: 2 },
      { key: 'plain', value: 'value', line: 4 },
    ]);
  });

  it('names the line of what it cannot read', function () {
    expect(parseError('json', '{\n  "a": 1,\n  "b": \n}').line).to.equal(4);
    expect(parseError('yaml', 'a: 1\nb: [1\nc: 2\n').line).to.equal(3);
    expect(parseError('yaml', 'a: 1\na: 2\n').line).to.equal(2);
    expect(parseError('yaml', '- 1\n- 2\n').line).to.equal(1);
    expect(parseError('yaml', 'a: 1\nb:\n').message).to.match(/line 2: 'b' has no value/);
    expect(parseError('json', '{"a": {"type": "Text", "value": 1}}').message).to.match(
      /type must be one of/,
    );
    expect(parseError('env', 'A=1\nthis is not a pair\n').line).to.equal(2);
    expect(parseError('env', 'A="unterminated\n').line).to.equal(1);
    expect(parseError('env', '# @type Integr\nA=1\n').line).to.equal(1);
    expect(parseError('env', 'A=1\nB=2\nA=3\n').message).to.equal(
      "line 3: 'A' is given again (first on line 1)",
    );
    expect(parseError('properties', 'a=1\nb=\\u12\n').line).to.equal(2);
    expect(parseError('env', '# @tags http\nA=1\n').message).to.match(/line 1: @tags must be/);
  });
});
