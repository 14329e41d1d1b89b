// Bundles, cgroup checks and clean-up for the OCI launch-path tests: busybox-static rootfs dirs, config.json from
// the real spec builder, and helpers that find (and end) the conmon processes these tests started.
import { chmod, copyFile, mkdir, readdir, readFile, rmdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RuntimeHandlerConfig } from '../../../src/config/config.js';
import { readProcStat } from '../../../src/oci/proc-stat.js';
import type { ContainerCreateOptions } from '../../../src/oci/runtime-types.js';
import { buildSpec, type SpecInput } from '../../../src/oci/spec.js';

/** The v1 controllers runc and crun place a container in on this kind of host. */
export const v1Controllers = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];

export function handlerConfig(
  base: string,
  name: 'runc' | 'crun',
  runtimeArgs: string[] = [],
): RuntimeHandlerConfig {
  return {
    runtime_path: name === 'runc' ? '/usr/sbin/runc' : '/usr/bin/crun',
    runtime_root: join(base, `${name}-root`),
    runtime_type: 'oci',
    runtime_args: runtimeArgs,
    monitor_path: '/usr/bin/conmon',
    // The tests pass cgroupV1View to createOciRuntime themselves.
    cgroup_v1_view: false,
  };
}

export interface TestBundle {
  bundle: string;
  rootfs: string;
  opts: ContainerCreateOptions;
}

/**
 * A bundle whose rootfs is a directory with busybox-static (and catatonit), config.json built by buildSpec with
 * new mount/pid/ipc/uts/network namespaces and cgroupsPath `<cgroupParent>/<id>`.
 */
export async function makeBundle(
  base: string,
  id: string,
  args: string[],
  cgroupParent: string,
  extra: Partial<SpecInput> = {},
  files: Record<string, string> = {},
): Promise<TestBundle> {
  const bundle = join(base, 'bundles', id);
  const rootfs = join(bundle, 'rootfs');
  for (const d of ['bin', 'usr/bin', 'proc', 'dev', 'sys', 'tmp', 'etc'])
    await mkdir(join(rootfs, d), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await copyFile('/usr/bin/catatonit', join(rootfs, 'usr/bin/catatonit'));
  await symlink('busybox', join(rootfs, 'bin/sh'));
  for (const [path, body] of Object.entries(files)) {
    await writeFile(join(rootfs, path), body);
    await chmod(join(rootfs, path), 0o755);
  }
  const spec = buildSpec({
    args,
    env: [],
    cwd: '/',
    user: { uid: 0, gid: 0 },
    terminal: false,
    hostname: id,
    rootfs,
    rootfsReadonly: true,
    namespaces: [{ type: 'mount' }, { type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }],
    cgroupsPath: `${cgroupParent}/${id}`,
    oomScoreAdj: -998,
    restrictOomScoreAdj: true,
    ...extra,
  });
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
  return {
    bundle,
    rootfs,
    opts: {
      id,
      name: `${id}-name`,
      bundle,
      logPath: join(base, 'logs', `${id}.log`),
      exitDir: join(base, 'exits'),
      persistDir: join(base, 'persist', id),
      socketDir: join(base, 's'),
      terminal: false,
      stdin: false,
      stdinOnce: false,
    },
  };
}

/** Pids of live conmon processes monitoring container `id` (argv `-c <id>`). */
export async function conmonsFor(id: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      const c = argv.indexOf('-c');
      if (argv[0]?.endsWith('conmon') === true && c >= 0 && argv[c + 1] === id) {
        const stat = await readProcStat(Number(entry));
        if (stat !== undefined && stat.state !== 'Z') out.push(Number(entry));
      }
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes a cgroup dir and its children in every hierarchy under /sys/fs/cgroup (deepest first). */
export async function removeCgroupTree(relative: string): Promise<void> {
  for (const hierarchy of await readdir('/sys/fs/cgroup')) {
    await removeDirTree(join('/sys/fs/cgroup', hierarchy, relative));
  }
}

async function removeDirTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await removeDirTree(join(dir, e.name));
  try {
    await rmdir(dir);
  } catch {
    // Still populated (a leaked process): left for the operator rather than hidden.
  }
}

/** CRI log lines: `<RFC3339Nano> <stream> <P|F> <text>`. */
export function parseCriLog(text: string): { time: string; stream: string; tag: string; line: string }[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S+) (stdout|stderr) (P|F) (.*)$/.exec(l);
      if (m === null) throw new Error(`not a CRI log line: ${JSON.stringify(l)}`);
      return { time: m[1] ?? '', stream: m[2] ?? '', tag: m[3] ?? '', line: m[4] ?? '' };
    });
}
