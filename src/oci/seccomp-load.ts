import { readFile, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { internal, invalidArgument, isCriError } from '../errors/errors.js';
import {
  convertSeccompProfile,
  parseSeccompProfile,
  type DockerSeccompProfile,
  type SeccompTarget,
} from './seccomp-convert.js';
import { builtInSeccompProfile } from './seccomp-default.js';
import type { OciSeccomp } from './spec-types.js';

/** Far above any real profile (containers-common's is 16 KiB); a bigger file is a mistake, not a profile. */
const maxProfileBytes = 4 << 20;

/** The file's text, or undefined when it does not exist. */
async function readProfileText(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw invalidArgument(`seccomp profile ${path} is not a regular file`);
    if (st.size > maxProfileBytes) throw invalidArgument(`seccomp profile ${path} is larger than 4 MiB`);
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function parseText(text: string, path: string): DockerSeccompProfile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`seccomp profile ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseSeccompProfile(json, path);
}

/**
 * The runtime's default profile (CRI RuntimeDefault) for one container: containers-common's file when the host has
 * it, cri-ts's own fallback deny list (seccomp-default.ts) otherwise. A broken default file is the node's fault, not the request's: Internal.
 */
export async function runtimeDefaultSeccomp(path: string, target: SeccompTarget): Promise<OciSeccomp | undefined> {
  let profile = builtInSeccompProfile;
  try {
    const text = path === '' ? undefined : await readProfileText(path);
    if (text !== undefined) profile = parseText(text, path);
  } catch (err) {
    throw internal(
      `cannot use the default seccomp profile ${path}: ${isCriError(err) ? err.message : String(err)}`,
      err,
    );
  }
  return convertSeccompProfile(profile, target);
}

/** A profile installed on the node (CRI Localhost), in runtime-spec or Docker format; it must exist. */
export async function localhostSeccomp(path: string, target: SeccompTarget): Promise<OciSeccomp | undefined> {
  if (!isAbsolute(path)) throw invalidArgument(`seccomp profile path ${JSON.stringify(path)} is not absolute`);
  const text = await readProfileText(path);
  if (text === undefined) throw invalidArgument(`seccomp profile ${path} does not exist`);
  return convertSeccompProfile(parseText(text, path), target);
}
