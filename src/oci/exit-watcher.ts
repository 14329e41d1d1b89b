import { watch, type FSWatcher } from 'node:fs';
import { access, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import { isContainerId } from './container-id.js';

/** What conmon left when the container's init process ended. */
export interface ExitRecord {
  /** The decimal status conmon wrote: the exit code, 128+N for signal N, -1 when conmon could not tell. */
  exitCode: number;
  /** When the file was written (its mtime): the container's finish time, as cri-o reads it. */
  finishedAt: Date;
}

function parseExitCode(text: string): number | undefined {
  const trimmed = text.trim();
  return /^-?\d{1,10}$/.test(trimmed) ? Number.parseInt(trimmed, 10) : undefined;
}

/** Reads `<exitDir>/<id>`; undefined when there is none (yet) or it does not hold a number. */
export async function readExit(exitDir: string, id: string): Promise<ExitRecord | undefined> {
  if (!isContainerId(id)) return undefined;
  const path = join(exitDir, id);
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const exitCode = parseExitCode(text);
    return exitCode === undefined ? undefined : { exitCode, finishedAt: info.mtime };
  } catch {
    return undefined;
  }
}

export async function readExitCode(exitDir: string, id: string): Promise<number | undefined> {
  return (await readExit(exitDir, id))?.exitCode;
}

/** Whether conmon saw the container's memory cgroup run out of memory (it touches `<persistDir>/oom`). */
export async function oomKilled(persistDir: string): Promise<boolean> {
  try {
    await access(join(persistDir, 'oom'));
    return true;
  } catch {
    return false;
  }
}

export type ExitHandler = (id: string, exitCode: number) => void | Promise<void>;

/**
 * Watches conmon's shared exit directory and calls the handler once per exit file. It rescans the directory when
 * it starts, so exits that happened while the daemon was down are reported too, and whenever the watch cannot say
 * which file changed. conmon writes the file to a temporary name and renames it into place, so a file that shows
 * up under a container id is complete; the temporary names (`<id>.XXXXXX`) are not container ids and are skipped.
 *
 * "Once" lasts while the file exists: when it is removed (the container was removed) and an exit file for the
 * same id appears again, that is reported again. A handler that throws is logged, and its file is retried by the
 * next rescan.
 */
export class ExitWatcher {
  private watcher: FSWatcher | undefined;
  private readonly reported = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Ids that changed again while their handler ran: looked at once more when it is done. */
  private readonly recheck = new Set<string>();
  private closed = false;

  constructor(
    private readonly exitDir: string,
    private readonly handler: ExitHandler,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await mkdir(this.exitDir, { recursive: true });
    // Watch first, then scan: an exit landing between the two is seen by at least one (and reported once).
    this.watcher = watch(this.exitDir, { persistent: false }, (_event, filename) => {
      if (filename === null) void this.rescan();
      else void this.check(filename);
    });
    this.watcher.on('error', (err) => {
      this.log.error(
        { err, exitDir: this.exitDir },
        'Exit directory watch failed; exits are found by rescans only',
      );
      this.watcher?.close();
      this.watcher = undefined;
    });
    await this.rescan();
  }

  /** Looks at every file in the exit directory; call it after anything that may have lost events. */
  async rescan(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.exitDir);
    } catch (err) {
      this.log.error({ err, exitDir: this.exitDir }, 'Cannot read the exit directory');
      return;
    }
    const present = new Set(names);
    for (const id of this.reported) if (!present.has(id)) this.reported.delete(id);
    await Promise.all(names.map((name) => this.check(name)));
  }

  /** Waits for the handlers that are running (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight.values());
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private check(name: string): Promise<void> {
    if (this.closed || !isContainerId(name)) return Promise.resolve();
    const running = this.inFlight.get(name);
    if (running !== undefined) {
      this.recheck.add(name);
      return running;
    }
    const work = this.handle(name).finally(() => {
      this.inFlight.delete(name);
      if (this.recheck.delete(name)) void this.check(name);
    });
    this.inFlight.set(name, work);
    return work;
  }

  private async handle(id: string): Promise<void> {
    const exit = await readExit(this.exitDir, id);
    if (exit === undefined) {
      // Removed (or not a complete exit file): a later exit file for this id is a new exit.
      this.reported.delete(id);
      return;
    }
    if (this.reported.has(id) || this.closed) return;
    this.reported.add(id);
    try {
      await this.handler(id, exit.exitCode);
    } catch (err) {
      this.reported.delete(id);
      this.log.error({ err, container: id }, 'Handling a container exit failed');
    }
  }
}
