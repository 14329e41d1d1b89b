import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The runtime reads the container's spec from `<bundle>/config.json` (runtime-spec "bundle.md"). */
const specPath = (bundle: string) => join(bundle, 'config.json');

export async function writeBundleSpec(bundle: string, spec: unknown): Promise<void> {
  await writeFile(specPath(bundle), JSON.stringify(spec));
}

/** The spec a container runs with, for verbose status; undefined once the (volatile) bundle is gone. */
export async function readBundleSpec(bundle: string): Promise<unknown> {
  const text = await readFile(specPath(bundle), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}
