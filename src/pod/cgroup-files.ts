import { readFile } from 'node:fs/promises';

/** A cgroup file's text, or undefined when the kernel does not offer it (controller absent, older kernel). */
export async function readCgroupText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** One number; undefined for a missing file, "max", or a negative value (v1's -1 "unlimited"). */
export function parseCgroupNumber(text: string | undefined): bigint | undefined {
  const t = text?.trim();
  return t !== undefined && /^\d+$/.test(t) ? BigInt(t) : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events, cpuacct.stat). */
export function parseFlatKeyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key !== undefined && value !== undefined && /^\d+$/.test(value)) out.set(key, BigInt(value));
  }
  return out;
}
