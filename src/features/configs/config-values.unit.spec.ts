import { expect } from 'chai';
import { DomainError } from '../../core/domain-error.js';
import {
  MAX_VALUE_LENGTH,
  normaliseValue,
  typedValue,
  unstorablePath,
  type ConfigType,
} from './config-values.js';

/** Asserts that `fn` throws a DomainError('validation') about `field`, and returns it. */
function expectRejected(fn: () => unknown, field = 'value'): DomainError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a DomainError to be thrown').to.be.instanceOf(DomainError);
  const error = caught as DomainError;
  expect(error.code).to.equal('validation');
  expect(error.field).to.equal(field);
  expect(error.message).to.match(new RegExp(`^${field} `));
  return error;
}

describe('values: normaliseValue', () => {
  describe('String', () => {
    it('stores any string exactly as given', () => {
      expect(normaliseValue('String', 'hello')).to.equal('hello');
      expect(normaliseValue('String', '')).to.equal('');
      expect(normaliseValue('String', '  padded  ')).to.equal('  padded  ');
      expect(normaliseValue('String', '42')).to.equal('42');
      expect(normaliseValue('String', 'ünïcødé ✓')).to.equal('ünïcødé ✓');
    });

    it('refuses NUL and unpaired surrogates (the event store cannot keep them), keeps pairs', () => {
      for (const bad of ['a\u0000b', 'x\ud800', '\udc00y', 'a\ude00\ud83d']) {
        expectRejected(() => normaliseValue('String', bad));
      }
      expect(normaliseValue('String', 'ok \ud83d\ude00')).to.equal('ok \ud83d\ude00');
    });

    it('finds the path of unstorable text anywhere in a body', () => {
      expect(unstorablePath({ a: 'fine', b: [1, 'x', { c: 'n\u0000' }] })?.path).to.equal('b[2].c');
      expect(unstorablePath({ 'k\ud800': 1 })?.path).to.equal('k\ud800');
      expect(unstorablePath('\u0000')).to.deep.equal({ path: '', why: 'text' });
      expect(unstorablePath({ a: ['\ud83d\ude00', '漢字', 'ё'] })).to.equal(undefined);
    });

    it('refuses JSON nested deeper than 64 levels, at any depth without exhausting the stack', () => {
      let deep: unknown = 'x';
      for (let i = 0; i < 200_000; i++) deep = [deep];
      expect(unstorablePath({ value: deep })?.why).to.equal('depth');
      let ok: unknown = 'x';
      for (let i = 0; i < 60; i++) ok = { n: ok };
      expect(unstorablePath(ok)).to.equal(undefined);
    });

    for (const input of [42, true, null, undefined, { a: 1 }, ['a']]) {
      it(`refuses ${JSON.stringify(input) ?? 'undefined'}, naming the field and the type`, () => {
        const error = expectRejected(() => normaliseValue('String', input));
        expect(error.message).to.contain('String');
      });
    }
  });

  describe('Boolean', () => {
    const accepted: [unknown, string][] = [
      [true, 'true'],
      [false, 'false'],
      ['true', 'true'],
      ['false', 'false'],
      ['TRUE', 'true'],
      [' False ', 'false'],
    ];
    for (const [input, expected] of accepted) {
      it(`normalises ${JSON.stringify(input)} to '${expected}'`, () => {
        expect(normaliseValue('Boolean', input)).to.equal(expected);
      });
    }

    for (const input of ['yes', '1', '0', '', 'truex', 1, 0, null, undefined, {}]) {
      it(`refuses ${JSON.stringify(input) ?? 'undefined'}`, () => {
        const error = expectRejected(() => normaliseValue('Boolean', input));
        expect(error.message).to.contain('Boolean');
      });
    }
  });

  describe('Integer', () => {
    const accepted: [unknown, string][] = [
      [42, '42'],
      [-7, '-7'],
      [0, '0'],
      [5.0, '5'],
      ['42', '42'],
      [' 42 ', '42'],
      ['-15', '-15'],
      ['007', '7'],
      ['-0', '0'],
      [Number.MAX_SAFE_INTEGER, String(Number.MAX_SAFE_INTEGER)],
      [String(Number.MIN_SAFE_INTEGER), String(Number.MIN_SAFE_INTEGER)],
    ];
    for (const [input, expected] of accepted) {
      it(`normalises ${JSON.stringify(input)} to '${expected}'`, () => {
        expect(normaliseValue('Integer', input)).to.equal(expected);
      });
    }

    const refused: unknown[] = [
      1.5,
      '1.5',
      '1.0',
      '1e3',
      '',
      '   ',
      'abc',
      '12abc',
      '0x10',
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.MAX_SAFE_INTEGER + 1,
      '9007199254740993',
      true,
      null,
      undefined,
      [1],
    ];
    for (const input of refused) {
      it(`refuses ${typeof input === 'number' ? String(input) : (JSON.stringify(input) ?? 'undefined')}`, () => {
        const error = expectRejected(() => normaliseValue('Integer', input));
        expect(error.message).to.contain('Integer');
      });
    }
  });

  describe('Number', () => {
    const accepted: [unknown, string][] = [
      [1.5, '1.5'],
      [42, '42'],
      [-0.25, '-0.25'],
      ['3.14', '3.14'],
      [' 2.5 ', '2.5'],
      ['1e3', '1000'],
      ['-0.5', '-0.5'],
      ['42', '42'],
      [0.1 + 0.2, '0.30000000000000004'],
    ];
    for (const [input, expected] of accepted) {
      it(`normalises ${JSON.stringify(input)} to '${expected}'`, () => {
        expect(normaliseValue('Number', input)).to.equal(expected);
      });
    }

    const refused: unknown[] = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      'Infinity',
      '-Infinity',
      'NaN',
      '1e400',
      '',
      '   ',
      'abc',
      '1.2.3',
      '0x10',
      ' 0X1f ',
      true,
      null,
      undefined,
      {},
    ];
    for (const input of refused) {
      it(`refuses ${typeof input === 'number' ? String(input) : (JSON.stringify(input) ?? 'undefined')}`, () => {
        const error = expectRejected(() => normaliseValue('Number', input));
        expect(error.message).to.contain('Number');
      });
    }

    // Regression: hexadecimal text ('0x10') is refused, but the other non-decimal literal forms are not:
    // Number('0b101') === 5 and Number('0o17') === 15, so normaliseValue('Number', '0b101')
    // returns '5' and normaliseValue('Number', '0o17') returns '15' instead of refusing them.
    for (const input of ['0b101', '0o17', ' 0B11 ']) {
      it(`refuses the non-decimal literal ${JSON.stringify(input)} like it refuses '0x10'`, () => {
        expectRejected(() => normaliseValue('Number', input));
      });
    }
  });

  describe('JSON', () => {
    const accepted: [unknown, string][] = [
      [{ a: 1, b: [1, 2] }, '{"a":1,"b":[1,2]}'],
      ['{ "a": 1, "b": [1, 2] }', '{"a":1,"b":[1,2]}'],
      ['  [1, 2, 3]  ', '[1,2,3]'],
      [[1, 'two', null], '[1,"two",null]'],
      [null, 'null'],
      ['null', 'null'],
      [5, '5'],
      ['42', '42'],
      [true, 'true'],
      ['"hello"', '"hello"'],
    ];
    for (const [input, expected] of accepted) {
      it(`normalises ${JSON.stringify(input)} to the canonical ${expected}`, () => {
        expect(normaliseValue('JSON', input)).to.equal(expected);
      });
    }

    it('refuses a missing value', () => {
      const error = expectRejected(() => normaliseValue('JSON', undefined));
      expect(error.message).to.contain('is missing');
    });

    for (const input of ['{bad', 'hello', '', "{'a': 1}", '[1,]']) {
      it(`refuses the invalid JSON text ${JSON.stringify(input)}`, () => {
        const error = expectRejected(() => normaliseValue('JSON', input));
        expect(error.message).to.contain('valid JSON');
      });
    }

    // Regression: input that JSON.stringify cannot serialise escapes as a plain TypeError instead of a
    // DomainError('validation'): normaliseValue('JSON', () => 1) → "Cannot read properties of
    // undefined (reading 'length')", normaliseValue('JSON', 1n) → "Do not know how to serialize
    // a BigInt", a circular object → "Converting circular structure to JSON". (Not reachable
    // through a JSON request body, but the function takes `unknown`.)
    it('refuses input that cannot be serialised as JSON with a validation error', () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const input of [() => 1, 1n, Symbol('s'), circular]) {
        expectRejected(() => normaliseValue('JSON', input));
      }
    });
  });

  describe('field name', () => {
    it('names the field it was given in the error', () => {
      const error = expectRejected(
        () => normaliseValue('Integer', 'abc', 'defaultValue'),
        'defaultValue',
      );
      expect(error.message).to.equal('defaultValue must be a whole number for type Integer');
    });

    it("defaults the field to 'value'", () => {
      const error = expectRejected(() => normaliseValue('Boolean', 'maybe'));
      expect(error.message).to.equal('value must be true or false for type Boolean');
    });
  });

  describe('size limit', () => {
    it(`accepts a value of exactly ${MAX_VALUE_LENGTH} characters`, () => {
      const text = 'x'.repeat(MAX_VALUE_LENGTH);
      expect(normaliseValue('String', text)).to.equal(text);
    });

    it('refuses a String one character over the limit', () => {
      const error = expectRejected(() =>
        normaliseValue('String', 'x'.repeat(MAX_VALUE_LENGTH + 1)),
      );
      expect(error.message).to.contain(String(MAX_VALUE_LENGTH));
    });

    it('applies to the canonical JSON text', () => {
      // The quotes make the canonical text two characters longer than the string inside.
      const inner = 'x'.repeat(MAX_VALUE_LENGTH - 1);
      expectRejected(() => normaliseValue('JSON', [inner]));
      expect(normaliseValue('JSON', [inner.slice(3)])).to.have.length(MAX_VALUE_LENGTH);
    });

    it('measures JSON after canonicalisation, so insignificant whitespace does not count', () => {
      const padded = `[${' '.repeat(MAX_VALUE_LENGTH)}1]`;
      expect(normaliseValue('JSON', padded)).to.equal('[1]');
    });

    it('names the field it was given', () => {
      expectRejected(
        () => normaliseValue('String', 'x'.repeat(MAX_VALUE_LENGTH + 1), 'defaultValue'),
        'defaultValue',
      );
    });
  });
});

describe('values: typedValue', () => {
  it('turns Boolean text into booleans', () => {
    expect(typedValue('Boolean', 'true')).to.equal(true);
    expect(typedValue('Boolean', 'false')).to.equal(false);
  });

  it('turns Integer and Number text into numbers', () => {
    expect(typedValue('Integer', '42')).to.equal(42);
    expect(typedValue('Integer', '-7')).to.equal(-7);
    expect(typedValue('Number', '1.5')).to.equal(1.5);
    expect(typedValue('Number', '1e+21')).to.equal(1e21);
  });

  it('parses JSON text', () => {
    expect(typedValue('JSON', '{"a":[1,2]}')).to.deep.equal({ a: [1, 2] });
    expect(typedValue('JSON', 'null')).to.equal(null);
    expect(typedValue('JSON', '"s"')).to.equal('s');
  });

  it('returns JSON text that does not parse unchanged', () => {
    expect(typedValue('JSON', 'not json')).to.equal('not json');
  });

  it('returns String text, and text of unknown types, unchanged', () => {
    expect(typedValue('String', '42')).to.equal('42');
    expect(typedValue('String', 'true')).to.equal('true');
    expect(typedValue('Whatever', '{"a":1}')).to.equal('{"a":1}');
  });

  const roundTrips: [ConfigType, unknown][] = [
    ['String', 'hello'],
    ['Boolean', true],
    ['Boolean', false],
    ['Integer', -123],
    ['Number', 3.25],
    ['JSON', { nested: { list: [1, 'a', null, true] } }],
  ];
  for (const [type, value] of roundTrips) {
    it(`round-trips ${JSON.stringify(value)} as ${type}`, () => {
      expect(typedValue(type, normaliseValue(type, value))).to.deep.equal(value);
    });
  }
});
