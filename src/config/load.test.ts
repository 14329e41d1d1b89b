import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'smol-toml';
import { defaultConfig } from './config.js';
import { loadConfig, type ConfigSources } from './load.js';
import { renderConfig } from './render.js';
import { ConfigError } from './schema.js';

const scratch = await mkdtemp(join(tmpdir(), 'cri-ts-config-'));
after(() => rm(scratch, { recursive: true, force: true }));
let n = 0;

/** A fresh config dir with the given main file and drop-ins (name → TOML text). */
async function sources(
  main: string | undefined,
  dropIns: Record<string, string> = {},
  flags = {},
): Promise<ConfigSources> {
  const dir = join(scratch, String(n++));
  await mkdir(join(dir, 'cri-ts.d'), { recursive: true });
  if (main !== undefined) await writeFile(join(dir, 'cri-ts.toml'), main);
  for (const [name, text] of Object.entries(dropIns)) await writeFile(join(dir, 'cri-ts.d', name), text);
  return {
    file: { path: join(dir, 'cri-ts.toml'), required: false },
    dropInDir: { path: join(dir, 'cri-ts.d'), required: false },
    flags,
  };
}

async function rejectsWith(promise: Promise<unknown>, key: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.key, key);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('loadConfig', () => {
  it('gives the built-in defaults when no file exists, runtime roots under the runroot', async () => {
    const config = await loadConfig(await sources(undefined));
    assert.equal(config.runtimes['runc']?.runtime_root, '/run/cri-ts/runc');
    const withRunroot = await loadConfig(await sources('runroot = "/tmp/rr"\n'));
    assert.equal(withRunroot.runtimes['crun']?.runtime_root, '/tmp/rr/crun');
    const d = defaultConfig();
    for (const h of Object.values(d.runtimes)) h.runtime_root = '';
    for (const h of Object.values(config.runtimes)) h.runtime_root = '';
    assert.deepEqual(config, d);
  });

  it('fails when a config file the user named is missing', async () => {
    const s = await sources(undefined);
    await rejectsWith(
      loadConfig({ ...s, file: { path: s.file.path, required: true } }),
      '',
      /cannot read config file/,
    );
  });

  it('layers defaults, file, drop-ins in lexical order, then flags', async () => {
    const s = await sources(
      'log_level = "debug"\n[api]\nstream_port = 1000\n[metrics]\nmetrics_port = 1\n',
      {
        '20-second.toml': '[api]\nstream_port = 3000\n',
        '10-first.conf': '[api]\nstream_port = 2000\nstream_address = "127.0.0.2"\n',
        'ignored.txt': 'this is not read = at all',
      },
      { metrics: { metrics_port: 4000 } },
    );
    const config = await loadConfig(s);
    assert.equal(config.log_level, 'debug');
    assert.equal(config.api.stream_port, 3000);
    assert.equal(config.api.stream_address, '127.0.0.2');
    assert.equal(config.metrics.metrics_port, 4000);
    assert.equal(config.api.listen, defaultConfig().api.listen, 'untouched keys keep their defaults');
  });

  it('merges a runtime handler key by key and completes new handlers', async () => {
    const s = await sources(
      '[runtimes.crun]\nruntime_args = ["--debug"]\n[runtimes.kata-fc]\nruntime_path = "/usr/bin/kata"\n',
    );
    const config = await loadConfig(s);
    assert.deepEqual(config.runtimes['crun'], {
      ...defaultConfig().runtimes['crun'],
      runtime_root: '/run/cri-ts/crun',
      runtime_args: ['--debug'],
    });
    assert.deepEqual(config.runtimes['kata-fc'], {
      runtime_path: '/usr/bin/kata',
      runtime_root: '/run/cri-ts/kata-fc',
      runtime_type: 'oci',
      runtime_args: [],
      monitor_path: '/usr/bin/conmon',
      cgroup_v1_view: false,
    });
  });

  it('names the key of a new runtime handler without a runtime_path', async () => {
    await rejectsWith(
      loadConfig(await sources('[runtimes.youki]\nruntime_root = "/run/youki"\n')),
      'runtimes.youki.runtime_path',
      /missing required key/,
    );
  });

  it('refuses unknown keys, naming the key and the file', async () => {
    const s = await sources(undefined, { '50-typo.toml': '[api]\nlisen = "unix:///x.sock"\n' });
    await rejectsWith(loadConfig(s), 'api.lisen', /50-typo\.toml: key "api\.lisen": unknown key/);
  });

  it('refuses bad values, naming the key', async () => {
    await rejectsWith(
      loadConfig(await sources('[metrics]\nmetrics_port = 70000\n')),
      'metrics.metrics_port',
      /integer from 0 to 65535/,
    );
    await rejectsWith(loadConfig(await sources('log_level = "loud"\n')), 'log_level', /one of fatal/);
    await rejectsWith(loadConfig(await sources('root = "var/lib"\n')), 'root', /absolute path/);
    await rejectsWith(
      loadConfig(await sources('[network]\ncni_plugin_dirs = "/opt/cni/bin"\n')),
      'network.cni_plugin_dirs',
      /array of strings/,
    );
    await rejectsWith(loadConfig(await sources('api = 3\n')), 'api', /expected a table/);
    await rejectsWith(
      loadConfig(await sources('[runtime]\npids_limit = -1\n')),
      'runtime.pids_limit',
      /integer from 0 to 4194304/,
    );
    await rejectsWith(
      loadConfig(await sources('[runtimes.Bad_Name]\nruntime_path = "/x"\n')),
      'runtimes.Bad_Name',
      /DNS label/,
    );
  });

  it('refuses invalid TOML with the file named', async () => {
    await rejectsWith(loadConfig(await sources('root = \n')), '', /cri-ts\.toml: invalid TOML/);
  });

  it('refuses a default runtime that has no handler table', async () => {
    await rejectsWith(
      loadConfig(await sources('[runtime]\ndefault_runtime = "gvisor"\n')),
      'runtime.default_runtime',
      /no \[runtimes\.gvisor\]/,
    );
  });

  it('checks flags like files', async () => {
    await rejectsWith(
      loadConfig(await sources(undefined, {}, { metrics: { metrics_port: 'abc' } })),
      'metrics.metrics_port',
      /command-line flags/,
    );
  });
});

describe('the shipped and printed configurations', () => {
  it('deploy/cri-ts.toml states exactly the built-in defaults', async () => {
    const deployFile = new URL('../../../deploy/cri-ts.toml', import.meta.url).pathname;
    const config = await loadConfig({
      file: { path: deployFile, required: true },
      dropInDir: { path: join(scratch, 'none'), required: false },
      flags: {},
    });
    assert.deepEqual(config, await loadConfig(await sources(undefined)));
  });

  it('`cri-ts config` output loads back to the same configuration', async () => {
    const s = await sources('[runtimes.crun]\nruntime_args = ["--systemd-cgroup"]\n', {}, { root: '/srv/cri-ts' });
    const config = await loadConfig(s);
    const again = await loadConfig(await sources(renderConfig(config)));
    assert.deepEqual(again, config);
    assert.equal((parse(renderConfig(config)) as { root: string }).root, '/srv/cri-ts');
  });
});
