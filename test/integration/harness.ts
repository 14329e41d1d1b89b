// Starts the real daemon (bin/cri-ts, as users do) on a temp socket and talks CRI to it over gRPC.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { criServiceDefinition, criServiceMethods } from '../../src/server/cri-codec.js';
import { ImageServiceName, RuntimeServiceName } from '../../src/cri/types.js';

export const repoRoot = new URL('../../../', import.meta.url).pathname;
export const criTs = join(repoRoot, 'bin/cri-ts');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface DaemonOptions {
  /** Extra flags after the isolating ones. */
  args?: string[];
  /** TOML for the (otherwise empty) config file. */
  configToml?: string;
}

/** A daemon process with its own dirs, config and metrics port; nothing is shared with the host's cri-ts. */
export class TestDaemon {
  readonly socket: string;
  readonly cniDir: string;
  readonly metricsPort: number;
  private stdout = '';
  private stderr = '';
  private proc: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  private constructor(
    readonly dir: string,
    metricsPort: number,
  ) {
    this.socket = join(dir, 'run', 'cri-ts.sock');
    this.cniDir = join(dir, 'cni');
    this.metricsPort = metricsPort;
  }

  static async create(): Promise<TestDaemon> {
    const dir = await mkdtemp(join(tmpdir(), 'cri-ts-it-'));
    await mkdir(join(dir, 'cni'));
    await mkdir(join(dir, 'conf.d'));
    await writeFile(join(dir, 'cri-ts.toml'), '');
    return new TestDaemon(dir, await freePort());
  }

  args(extra: string[] = []): string[] {
    return [
      '--config',
      join(this.dir, 'cri-ts.toml'),
      '--config-dir',
      join(this.dir, 'conf.d'),
      '--listen',
      `unix://${this.socket}`,
      '--root',
      join(this.dir, 'root'),
      '--runroot',
      join(this.dir, 'run'),
      '--cni-config-dir',
      this.cniDir,
      '--metrics-port',
      String(this.metricsPort),
      '--log-level',
      'debug',
      ...extra,
    ];
  }

  /** Spawns the daemon; resolves once it answers Version, rejects if it exits first. */
  async start(options: DaemonOptions = {}): Promise<void> {
    await writeFile(join(this.dir, 'cri-ts.toml'), options.configToml ?? '');
    const proc = spawn(criTs, this.args(options.args), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout.on('data', (d: Buffer) => (this.stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 15_000;
    const client = this.runtime();
    try {
      for (;;) {
        const early = await Promise.race([
          this.exited,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
        ]);
        if (early !== undefined) throw new Error(`cri-ts exited early (${String(early.code)}): ${this.stderr}`);
        try {
          await unary(client, 'Version', {});
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`cri-ts did not answer within 15s: ${this.stderr}`);
        }
      }
    } finally {
      client.close();
    }
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get logs(): string {
    return this.stdout;
  }

  get errors(): string {
    return this.stderr;
  }

  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  waitExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exited === undefined) throw new Error('daemon never started');
    return this.exited;
  }

  runtime(): Client {
    return client(RuntimeServiceName, this.socket);
  }

  image(): Client {
    return client(ImageServiceName, this.socket);
  }

  /** Stops the daemon (by the PID we started) and removes its dirs. */
  async cleanup(): Promise<void> {
    if (this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.waitExit();
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Runs the daemon binary to completion (for commands and start-up failures). */
export function runCriTs(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(criTs, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export function client(service: string, socket: string): Client {
  const Ctor = makeGenericClientConstructor(criServiceDefinition(service), service);
  return new Ctor(`unix://${socket}`, credentials.createInsecure());
}

type UnaryFn = (
  req: unknown,
  options: { deadline?: number },
  cb: (err: ServiceError | null, res: unknown) => void,
) => void;

export function unary<T = Record<string, unknown>>(
  c: Client,
  method: string,
  request: unknown,
  options: { deadlineMs?: number } = {},
): Promise<T> {
  const fn = (c as unknown as Record<string, UnaryFn>)[method];
  if (fn === undefined) throw new Error(`no method ${method}`);
  const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve, reject) => {
    fn.call(c, request, callOptions, (err, res) => (err === null ? resolve(res as T) : reject(err)));
  });
}

/** Reads a server stream to its end; rejects with the stream's error. */
export function serverStream(c: Client, method: string, request: unknown): Promise<unknown[]> {
  const fn = (c as unknown as Record<string, (req: unknown) => NodeJS.ReadableStream>)[method];
  if (fn === undefined) throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => {
    const items: unknown[] = [];
    const stream = fn.call(c, request);
    stream.on('data', (d: unknown) => items.push(d));
    stream.on('error', reject);
    stream.on('end', () => resolve(items));
  });
}

export { criServiceMethods };
