import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfigDir, defaultConfigFile } from '../config/config.js';
import { parseConfigFlags, UsageError } from './flags.js';

describe('parseConfigFlags', () => {
  it('uses the default config locations, not required, when none is named', () => {
    const parsed = parseConfigFlags([]);
    assert.deepEqual(parsed.configFile, { path: defaultConfigFile, required: false });
    assert.deepEqual(parsed.configDir, { path: defaultConfigDir, required: false });
    assert.deepEqual(parsed.layer, {});
  });

  it('shapes flags like the config file', () => {
    const parsed = parseConfigFlags([
      '--config=/etc/x.toml',
      '--listen',
      'unix:///tmp/c.sock',
      '--cni-plugin-dir=/a',
      '--cni-plugin-dir=/b',
      '--no-enable-metrics',
      '--metrics-port=9999',
      '--stream-port',
      'x1',
      '--log-level=debug',
    ]);
    assert.deepEqual(parsed.configFile, { path: '/etc/x.toml', required: true });
    assert.deepEqual(parsed.layer, {
      log_level: 'debug',
      api: { listen: 'unix:///tmp/c.sock', stream_port: 'x1' },
      network: { cni_plugin_dirs: ['/a', '/b'] },
      metrics: { enable_metrics: false, metrics_port: 9999 },
    });
  });

  it('refuses unknown flags and stray arguments', () => {
    assert.throws(() => parseConfigFlags(['--lisen=x']), UsageError);
    assert.throws(() => parseConfigFlags(['extra']), UsageError);
  });
});
