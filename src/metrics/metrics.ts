import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric of the daemon lives behind this class: nothing else imports prom-client. Names follow
 * cri-o's `operations_*` family under our own `cri_ts_` prefix so dashboards written for cri-o map one to one.
 */
export class Metrics {
  readonly registry = new Registry();

  private readonly operations = new Counter({
    name: 'cri_ts_operations_total',
    help: 'CRI calls served, by operation (the gRPC method name).',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  private readonly operationErrors = new Counter({
    name: 'cri_ts_operations_errors_total',
    help: 'CRI calls that ended with an error, by operation and gRPC status code name.',
    labelNames: ['operation', 'code'] as const,
    registers: [this.registry],
  });

  private readonly operationLatency = new Histogram({
    name: 'cri_ts_operations_latency_seconds',
    help: 'Latency of CRI calls in seconds, by operation.',
    labelNames: ['operation'] as const,
    // CRI calls span sub-millisecond status polls to multi-minute image pulls.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  private readonly imagePulls = new Counter({
    name: 'cri_ts_image_pulls_total',
    help: 'Image pulls finished, by outcome (success, failure, canceled).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly imagePullBytes = new Counter({
    name: 'cri_ts_image_pulls_bytes_total',
    help: 'Bytes downloaded from registries.',
    registers: [this.registry],
  });

  private readonly imagePullsInFlight = new Gauge({
    name: 'cri_ts_image_pulls_in_flight',
    help: 'Image pulls running now (concurrent requests for one image count once).',
    registers: [this.registry],
  });

  private readonly layerSeconds = new Histogram({
    name: 'cri_ts_image_layer_seconds',
    help: 'Time to download or unpack one layer, by phase.',
    labelNames: ['phase'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });

  private readonly containersByState = new Gauge({
    name: 'cri_ts_containers',
    help: 'Containers known to the runtime, by state (created, running, exited).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  private readonly oomKills = new Counter({
    name: 'cri_ts_containers_oom_total',
    help: 'Container exits caused by the kernel OOM killer.',
    registers: [this.registry],
  });

  private readonly execSyncSeconds = new Histogram({
    name: 'cri_ts_exec_sync_seconds',
    help: 'Duration of ExecSync commands, by outcome (exited, timeout).',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  private readonly monitorFailures = new Counter({
    name: 'cri_ts_monitor_failures_total',
    help: 'Container creations that failed in the monitor (conmon) or the OCI runtime.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cri_ts_' });
  }

  /** Records one finished CRI call; `errorCode` is the gRPC status name, absent on success. */
  recordOperation(operation: string, seconds: number, errorCode?: string): void {
    this.operations.inc({ operation });
    this.operationLatency.observe({ operation }, seconds);
    if (errorCode !== undefined) this.operationErrors.inc({ operation, code: errorCode });
  }

  pullFinished(outcome: 'success' | 'failure' | 'canceled'): void {
    this.imagePulls.inc({ outcome });
  }

  bytesDownloaded(bytes: number): void {
    if (bytes > 0) this.imagePullBytes.inc(bytes);
  }

  pullsInFlight(count: number): void {
    this.imagePullsInFlight.set(count);
  }

  layerDownloaded(seconds: number): void {
    this.layerSeconds.observe({ phase: 'download' }, seconds);
  }

  layerUnpacked(seconds: number): void {
    this.layerSeconds.observe({ phase: 'unpack' }, seconds);
  }

  setContainerCounts(counts: Record<'created' | 'running' | 'exited', number>): void {
    for (const [state, n] of Object.entries(counts)) this.containersByState.set({ state }, n);
  }

  containerOomKilled(): void {
    this.oomKills.inc();
  }

  execSyncFinished(seconds: number, timedOut: boolean): void {
    this.execSyncSeconds.observe({ outcome: timedOut ? 'timeout' : 'exited' }, seconds);
  }

  monitorFailed(): void {
    this.monitorFailures.inc();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
