import { expect } from 'chai';
import { checkWebhookUrl, isPrivateAddress, parseWebhookUrl } from './webhook-url-guard.js';

describe('webhook URL guard (SSRF)', function () {
  it('refuses loopback, private, link-local, unique-local, CGNAT, multicast and reserved addresses', function () {
    for (const a of [
      '127.0.0.1',
      '127.1.2.3',
      '10.0.0.8',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::10.0.0.1',
      'not-an-address',
    ]) {
      expect(isPrivateAddress(a), a).to.equal(true);
    }
  });

  it('allows public addresses', function () {
    for (const a of [
      '93.184.216.34',
      '8.8.8.8',
      '172.32.0.1',
      '2606:4700::6810:85e5',
      '::ffff:8.8.8.8',
    ]) {
      expect(isPrivateAddress(a), a).to.equal(false);
    }
  });

  it('takes http(s) URLs without credentials only', function () {
    expect(() => parseWebhookUrl('ftp://example.com/x')).to.throw(/http/);
    expect(() => parseWebhookUrl('not a url')).to.throw(/absolute/);
    expect(() => parseWebhookUrl('https://u:p@example.com/x')).to.throw(/credentials/);
    expect(parseWebhookUrl('https://example.com/hook').hostname).to.equal('example.com');
  });

  it('refuses a URL whose host is private unless private networks are allowed', async function () {
    for (const url of ['http://127.0.0.1:9/x', 'http://localhost/x', 'http://[::1]/x']) {
      let refused: unknown;
      await checkWebhookUrl(url, false).catch((e: unknown) => (refused = e));
      expect((refused as Error)?.message, url).to.match(/private|loopback/);
    }
    expect((await checkWebhookUrl('http://127.0.0.1:9/x', true)).port).to.equal('9');
  });
});
