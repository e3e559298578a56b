import { expect } from 'chai';
import { otlpTracesUrl } from './tracing.js';

describe('tracing endpoint (unit)', function () {
  it("maps the guide's Jaeger collector URL to the same host's OTLP receiver", function () {
    expect(otlpTracesUrl('http://jaeger:14268/api/traces')).to.deep.equal({
      url: 'http://jaeger:4318/v1/traces',
      rewritten: true,
    });
  });

  it('adds the traces path to a bare OTLP endpoint, and keeps a full one', function () {
    expect(otlpTracesUrl('http://jaeger:4318').url).to.equal('http://jaeger:4318/v1/traces');
    expect(otlpTracesUrl('https://otel.example.com/v1/traces')).to.deep.equal({
      url: 'https://otel.example.com/v1/traces',
      rewritten: false,
    });
  });
});
