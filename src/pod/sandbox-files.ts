import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname as hostHostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DNSConfig } from '../cri/types.js';
import { internal, invalidArgument } from '../errors/errors.js';

const run = promisify(execFile);

/** The default size of a pod's /dev/shm, as cri-o and containerd use. */
export const defaultShmBytes = 64 * 1024 * 1024;

function checkDnsValue(kind: string, value: string): void {
  if (/[\s#;]/.test(value) || value === '')
    throw invalidArgument(`dns ${kind} ${JSON.stringify(value)} is not a single token`);
}

/**
 * The pod's resolv.conf: the CRI DNSConfig when kubelet sends one (ClusterFirst pods), otherwise the node's
 * own file (Default DNS policy), as cri-o does.
 */
export async function writeResolvConf(
  path: string,
  dns: DNSConfig | null,
  hostFile = '/etc/resolv.conf',
): Promise<void> {
  if (dns === null || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) {
    let text = '';
    try {
      text = await readFile(hostFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await writeFile(path, text, { mode: 0o644 });
    return;
  }
  const lines: string[] = [];
  for (const s of dns.servers) {
    checkDnsValue('server', s);
    lines.push(`nameserver ${s}`);
  }
  if (dns.searches.length > 0) {
    dns.searches.forEach((s) => checkDnsValue('search', s));
    lines.push(`search ${dns.searches.join(' ')}`);
  }
  if (dns.options.length > 0) {
    dns.options.forEach((o) => checkDnsValue('option', o));
    lines.push(`options ${dns.options.join(' ')}`);
  }
  await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o644 });
}

/** RFC 1123 hostname rules, as the kernel's 64-byte uts field and kubelet's validation allow. */
export function podHostname(requested: string, sandboxId: string, hostNetwork: boolean): string {
  if (hostNetwork) return hostHostname();
  const name = requested === '' ? sandboxId.slice(0, 12) : requested;
  if (name.length > 63 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(name)) {
    throw invalidArgument(`hostname ${JSON.stringify(name)} is not a valid RFC 1123 host name`);
  }
  return name;
}

export async function writeHostnameFile(path: string, name: string): Promise<void> {
  await writeFile(path, `${name}\n`, { mode: 0o644 });
}

/** A private tmpfs for the pod's /dev/shm, shared by its containers. */
export async function mountShm(path: string, sizeBytes: number): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o755 });
  try {
    await run('mount', [
      '-t',
      'tmpfs',
      '-o',
      `mode=1777,nosuid,nodev,noexec,size=${String(sizeBytes)}`,
      'shm',
      path,
    ]);
  } catch (err) {
    throw internal(
      `cannot mount the pod's /dev/shm at ${path}: ${(err as { stderr?: string }).stderr ?? String(err)}`,
    );
  }
}

/** Unmounts the pod's /dev/shm; not mounted is fine. */
export async function unmountShm(path: string): Promise<void> {
  try {
    await run('umount', [path]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    if (!/not mounted|no mount point|not found|No such file/i.test(stderr)) {
      throw internal(`cannot unmount ${path}: ${stderr}`);
    }
  }
}

export function sandboxPaths(root: string, runroot: string, id: string) {
  const runDir = join(runroot, 'sandboxes', id);
  return {
    dir: join(root, 'sandboxes', id),
    runDir,
    resolvConf: join(runDir, 'resolv.conf'),
    hostnameFile: join(runDir, 'hostname'),
    shm: join(runDir, 'shm'),
    nsDir: join(runroot, 'ns', id),
    bundle: join(runDir, 'pause'),
  };
}
