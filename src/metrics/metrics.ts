import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cri_ts_' });
  }

  /** Records one finished CRI call; `errorCode` is the gRPC status name, absent on success. */
  recordOperation(operation: string, seconds: number, errorCode?: string): void {
    this.operations.inc({ operation });
    this.operationLatency.observe({ operation }, seconds);
    if (errorCode !== undefined) this.operationErrors.inc({ operation, code: errorCode });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
