import { invalidArgument } from '../errors/errors.js';

/**
 * Container ids become file names (exit files, runtime state dirs, attach symlinks), so they are restricted before
 * anything touches the disk. No dots: conmon writes exit files through glib's g_file_set_contents, which creates
 * `<id>.XXXXXX` beside the final name first; with dot-free ids the exit watcher can tell those apart.
 */
const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export function isContainerId(id: string): boolean {
  return idPattern.test(id);
}

export function assertContainerId(id: string): void {
  if (!isContainerId(id)) throw invalidArgument(`invalid container id ${JSON.stringify(id)}`);
}
