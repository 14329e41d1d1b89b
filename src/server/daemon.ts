import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Config } from '../config/config.js';
import { ImageServiceName, RuntimeServiceName } from '../cri/types.js';
import { unavailable } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { checkHandler } from '../oci/runtime-handlers.js';
import { runtimeName, runtimeVersion } from '../version.js';
import { adaptService, type AdapterDeps } from './adapter.js';
import { criServiceDefinition } from './cri-codec.js';
import { composeServices, type Services } from './compose.js';
import { startMetricsServer } from './metrics-http.js';
import { prepareSocketPath, socketPathOf } from './unix-socket.js';

type Phase = 'starting' | 'serving' | 'stopping' | 'stopped';

/** The composition root: config in, a serving CRI socket (and metrics endpoint) out. */
export class Daemon {
  private phase: Phase = 'starting';
  private readonly metrics = new Metrics();
  private readonly inFlight = new Set<AbortController>();
  private grpc: Server | undefined;
  private metricsServer: HttpServer | undefined;
  private socketIno: number | undefined;
  private services: Services | undefined;
  readonly socketPath: string;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.socketPath = socketPathOf(config.api.listen);
  }

  async start(): Promise<void> {
    const { config, log } = this;
    await mkdir(config.root, { recursive: true, mode: 0o700 });
    await mkdir(config.runroot, { recursive: true, mode: 0o700 });
    for (const [name, handler] of Object.entries(config.runtimes)) {
      const check = await checkHandler(name, handler);
      if (!check.ok) log.warn({ handler: name }, `Runtime handler ${name} is not usable: ${check.problem ?? ''}`);
    }

    const deps: AdapterDeps = {
      log,
      metrics: this.metrics,
      inFlight: this.inFlight,
      notReady: () =>
        this.phase === 'serving' ? undefined : unavailable(`cri-ts is ${this.phase}, not serving requests`),
    };
    const services = await composeServices(config, log, this.metrics);
    this.services = services;

    const grpc = new Server({
      'grpc.max_receive_message_length': config.api.grpc_max_recv_msg_size,
      'grpc.max_send_message_length': config.api.grpc_max_send_msg_size,
    });
    grpc.addService(
      criServiceDefinition(RuntimeServiceName),
      adaptService(RuntimeServiceName, services.runtime, deps),
    );
    grpc.addService(criServiceDefinition(ImageServiceName), adaptService(ImageServiceName, services.image, deps));

    await prepareSocketPath(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      grpc.bindAsync(`unix://${this.socketPath}`, ServerCredentials.createInsecure(), (err) =>
        err === null ? resolve() : reject(err),
      );
    });
    this.grpc = grpc;
    // Group-accessible like cri-o's socket: root and a trusted group (kubelet runs as root) may call.
    await chmod(this.socketPath, 0o660);
    this.socketIno = (await lstat(this.socketPath)).ino;

    if (config.metrics.enable_metrics) {
      this.metricsServer = await startMetricsServer(
        this.metrics,
        config.metrics.metrics_host,
        config.metrics.metrics_port,
        log,
      );
      log.info({ host: config.metrics.metrics_host, port: config.metrics.metrics_port }, 'Serving metrics');
    }
    this.phase = 'serving';
    log.info({ socket: this.socketPath, version: runtimeVersion }, `${runtimeName} is serving CRI v1`);
  }

  /**
   * Stops serving without touching containers: new calls are refused, in-flight calls get the grace period to
   * finish and are then cancelled, the socket is removed.
   */
  async stop(): Promise<void> {
    if (this.phase === 'stopping' || this.phase === 'stopped') return;
    this.phase = 'stopping';
    const grpc = this.grpc;
    if (grpc !== undefined) {
      const graceMs = this.config.api.shutdown_grace_seconds * 1000;
      const drained = new Promise<void>((resolve) => grpc.tryShutdown(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), graceMs);
      });
      if ((await Promise.race([drained, expired])) === 'expired') {
        this.log.warn({ inFlight: this.inFlight.size }, 'Cancelling calls still in flight at shutdown');
        for (const c of this.inFlight) c.abort(unavailable('cri-ts is shutting down'));
        grpc.forceShutdown();
      }
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => {
      if (this.metricsServer === undefined) resolve();
      else this.metricsServer.close(() => resolve());
    });
    await this.services?.close();
    await this.removeOwnSocket();
    this.phase = 'stopped';
    this.log.info('Stopped serving');
  }

  /** Removes the socket only if it is still the one we bound (a successor may already have replaced it). */
  private async removeOwnSocket(): Promise<void> {
    try {
      if ((await lstat(this.socketPath)).ino === this.socketIno) await unlink(this.socketPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
