import { readFileSync } from 'node:fs';

/** The daemon's own version, from package.json (dist/src/version.js sits two levels below it). */
export const runtimeVersion: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export const runtimeName = 'cri-ts';
