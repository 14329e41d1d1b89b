import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toAttachment } from './cni-result.js';

describe('cni results', () => {
  it('reads interfaces and ips of a 1.0 result', () => {
    const result = {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'cni0', mac: '00:11:22:33:44:55' },
        { name: 'veth1', mac: '55:44:33:22:11:11' },
        { name: 'eth0', mac: '99:88:77:66:55:44', sandbox: '/run/ns/x/net' },
      ],
      ips: [
        { address: '10.1.0.5/16', gateway: '10.1.0.1', interface: 2 },
        { address: 'fd00::5/64', interface: 2 },
      ],
    };
    assert.deepEqual(toAttachment('dbnet', result), {
      network: 'dbnet',
      result,
      interfaces: [
        { name: 'cni0', mac: '00:11:22:33:44:55' },
        { name: 'veth1', mac: '55:44:33:22:11:11' },
        { name: 'eth0', mac: '99:88:77:66:55:44', sandbox: '/run/ns/x/net' },
      ],
      ips: [
        { address: '10.1.0.5/16', gateway: '10.1.0.1', interfaceIndex: 2 },
        { address: 'fd00::5/64', interfaceIndex: 2 },
      ],
    });
  });

  it('reads the ip4/ip6 of a 0.2.0 result and survives junk', () => {
    const legacy = { cniVersion: '0.2.0', ip4: { ip: '10.2.0.7/24', gateway: '10.2.0.1' } };
    assert.deepEqual(toAttachment('old', legacy).ips, [{ address: '10.2.0.7/24', gateway: '10.2.0.1' }]);
    assert.deepEqual(toAttachment('x', { ips: [null, { address: 3 }], interfaces: ['eth0'] }), {
      network: 'x',
      result: { ips: [null, { address: 3 }], interfaces: ['eth0'] },
      ips: [],
      interfaces: [],
    });
    assert.deepEqual(toAttachment('x', undefined).ips, []);
  });
});
