import { expect } from 'chai';
import { newWebhookSecret, signature, signedHeaders, verifySignature } from './webhook-signing.js';

describe('webhook signing (Standard Webhooks)', function () {
  it("matches the specification's published test vector", function () {
    expect(
      signature(
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        1614265330,
        '{"test": 2432232314}',
      ),
    ).to.equal('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs id, timestamp and body; a receiver verifies them and refuses any change', function () {
    const secret = newWebhookSecret();
    const now = Date.UTC(2026, 0, 1);
    const h = signedHeaders(secret, 'whd_1', '{"a":1}', now);
    const headers = {
      id: h['webhook-id'],
      timestamp: h['webhook-timestamp'],
      signature: h['webhook-signature'],
    };
    expect(verifySignature(secret, headers, '{"a":1}', now)).to.equal(true);
    expect(verifySignature(secret, headers, '{"a":2}', now)).to.equal(false);
    expect(verifySignature(secret, { ...headers, id: 'whd_2' }, '{"a":1}', now)).to.equal(false);
    expect(verifySignature(newWebhookSecret(), headers, '{"a":1}', now)).to.equal(false);
    // Replays outside the tolerance are refused.
    expect(verifySignature(secret, headers, '{"a":1}', now + 301_000)).to.equal(false);
  });

  it('accepts any of several space-separated signatures (secret rotation on the receiver)', function () {
    const secret = newWebhookSecret();
    const h = signedHeaders(secret, 'whd_1', 'x', 0);
    const signatureHeader = `v1,AAAA ${h['webhook-signature']}`;
    expect(
      verifySignature(secret, { id: 'whd_1', timestamp: '0', signature: signatureHeader }, 'x', 0),
    ).to.equal(true);
  });
});
