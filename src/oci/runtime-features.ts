import { release } from 'node:os';
import { runBounded } from '../process/run-bounded.js';

/** What a runtime handler can do beyond the OCI basics; advertised to kubelet in Status, enforced on create. */
export interface HandlerFeatures {
  /** Recursive read-only bind mounts ("rro"): the runtime knows the option and the kernel has mount_setattr. */
  recursiveReadOnlyMounts: boolean;
}

/** mount_setattr(2), which "rro" needs, arrived in Linux 5.12. */
export function kernelHasMountSetattr(kernelRelease: string = release()): boolean {
  const [major, minor] = kernelRelease.split(/[.-]/).map(Number);
  if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) return false;
  return major > 5 || (major === 5 && minor >= 12);
}

/** The mount options in an OCI runtime's `features` document (runtime-spec features.md), if it has any. */
export function mountOptionsOf(featuresJson: string): Set<string> {
  try {
    const doc = JSON.parse(featuresJson) as { mountOptions?: unknown };
    return new Set(Array.isArray(doc.mountOptions) ? doc.mountOptions.filter((o) => typeof o === 'string') : []);
  } catch {
    return new Set();
  }
}

/**
 * Asks the runtime binary what it supports (`<runtime> features`, runc ≥ 1.1). A runtime without that command
 * (crun before 1.9) is taken to support nothing optional, as cri-o and containerd do: a feature kubelet relies on
 * must not be guessed.
 */
export async function probeHandlerFeatures(runtimePath: string, kernelRelease?: string): Promise<HandlerFeatures> {
  const r = await runBounded(runtimePath, ['features'], {
    timeoutMs: 10_000,
    outputCap: 1024 * 1024,
    timeoutMessage: `${runtimePath} features did not answer within 10s`,
  }).catch(() => undefined);
  const options = r?.code === 0 ? mountOptionsOf(r.stdout) : new Set<string>();
  return { recursiveReadOnlyMounts: kernelHasMountSetattr(kernelRelease) && options.has('rro') };
}
