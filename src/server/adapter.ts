import { randomBytes } from 'node:crypto';
import type {
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { CriError, unimplemented } from '../errors/errors.js';
import type { Init } from '../cri/types.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { criServiceMethods, type CriMethod } from './cri-codec.js';
import { toGrpcStatus } from './grpc-status.js';

/** What every handler gets besides its request. */
export interface CallContext {
  /** Fires when the client cancels, the deadline passes or the daemon gives up on in-flight work at shutdown. */
  signal: AbortSignal;
  log: Logger;
  method: string;
  requestId: string;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Init<Res>>;
export type StreamHandler<Req, Res> = (
  request: Req,
  ctx: CallContext,
  send: (response: Init<Res>) => Promise<void>,
) => Promise<void>;

/** A partial implementation of a generated `*Methods` map; what is missing answers UNIMPLEMENTED. */
export type ServiceHandlers<M> = {
  [K in keyof M]?: M[K] extends { request: infer Req; response: infer Res; responseStream: true }
    ? StreamHandler<Req, Res>
    : M[K] extends { request: infer Req; response: infer Res }
      ? UnaryHandler<Req, Res>
      : never;
};

export interface AdapterDeps {
  log: Logger;
  metrics: Metrics;
  /** Undefined while serving; the error to answer with while starting or stopping. */
  notReady: () => CriError | undefined;
  /** In-flight calls, so shutdown can cancel what did not finish in its grace period. */
  inFlight: Set<AbortController>;
}

/** Calls that kubelet or crictl make every few seconds: logged at trace so info stays readable. */
const polled = new Set([
  'Version',
  'Status',
  'RuntimeConfig',
  'ListPodSandbox',
  'PodSandboxStatus',
  'ListContainers',
  'ContainerStatus',
  'ContainerStats',
  'ListContainerStats',
  'PodSandboxStats',
  'ListPodSandboxStats',
  'ListMetricDescriptors',
  'ListPodSandboxMetrics',
  'ListImages',
  'ImageStatus',
  'ImageFsInfo',
]);

function requestId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Starts a call: its AbortSignal (client cancel, deadline, shutdown) and its child logger. The returned `finish`
 * records metrics and the outcome, and must be called exactly once.
 */
function beginCall(
  deps: AdapterDeps,
  method: CriMethod,
  call: { on(event: 'cancelled', cb: () => void): unknown; getDeadline(): Date | number },
): { ctx: CallContext; finish: (err?: unknown) => ReturnType<typeof toGrpcStatus> | undefined } {
  const id = requestId();
  const log = deps.log.child({ rpc: method.name, req: id });
  const controller = new AbortController();
  deps.inFlight.add(controller);
  const onCancel = (): void => controller.abort(new CriError('Canceled', `${method.name} canceled by the client`));
  call.on('cancelled', onCancel);
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(deadlineMs)) {
    timer = setTimeout(
      () => controller.abort(new CriError('DeadlineExceeded', `${method.name} exceeded the client deadline`)),
      Math.max(0, deadlineMs - Date.now()),
    );
  }
  const started = process.hrtime.bigint();
  const quiet = polled.has(method.name);
  if (!quiet) log.debug(`Started ${method.name}`);
  const finish = (err?: unknown): ReturnType<typeof toGrpcStatus> | undefined => {
    if (timer !== undefined) clearTimeout(timer);
    deps.inFlight.delete(controller);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const durationMs = Math.round(seconds * 1e6) / 1e3;
    if (err === undefined) {
      deps.metrics.recordOperation(method.name, seconds);
      log[quiet ? 'trace' : 'info']({ durationMs }, `Finished ${method.name}`);
      return undefined;
    }
    const st = toGrpcStatus(err);
    deps.metrics.recordOperation(method.name, seconds, st.codeName);
    if (st.codeName === 'INTERNAL') log.error({ err, durationMs, code: st.codeName }, `Failed ${method.name}`);
    else
      log[quiet ? 'debug' : 'info']({ durationMs, code: st.codeName, error: st.details }, `Failed ${method.name}`);
    return st;
  };
  return { ctx: { signal: controller.signal, log, method: method.name, requestId: id }, finish };
}

function wrapUnary(
  deps: AdapterDeps,
  method: CriMethod,
  handler: UnaryHandler<unknown, unknown>,
): UntypedHandleCall {
  return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>): void => {
    const { ctx, finish } = beginCall(deps, method, call);
    // grpc-js only catches synchronous throws: everything, including readiness, goes through this promise.
    const run = async (): Promise<unknown> => {
      const refusal = deps.notReady();
      if (refusal !== undefined) throw refusal;
      return handler(call.request, ctx);
    };
    run().then(
      (response) => {
        finish();
        callback(null, response);
      },
      (err: unknown) => {
        const st = finish(err);
        callback(st === undefined ? null : { code: st.code, details: st.details });
      },
    );
  };
}

function wrapStream(
  deps: AdapterDeps,
  method: CriMethod,
  handler: StreamHandler<unknown, unknown>,
): UntypedHandleCall {
  return (call: ServerWritableStream<unknown, unknown>): void => {
    const { ctx, finish } = beginCall(deps, method, call);
    const send = async (response: unknown): Promise<void> => {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (!call.write(response)) {
        await new Promise<void>((resolve) => call.once('drain', resolve));
      }
    };
    const run = async (): Promise<void> => {
      const refusal = deps.notReady();
      if (refusal !== undefined) throw refusal;
      await handler(call.request, ctx, send);
    };
    run().then(
      () => {
        finish();
        call.end();
      },
      (err: unknown) => {
        const st = finish(err);
        // grpc-js ends a server stream with a status when the call emits 'error' with { code, details }.
        if (st !== undefined) call.emit('error', { code: st.code, details: st.details });
      },
    );
  };
}

/**
 * Wraps a service's handlers for grpc-js. Every method of the proto gets a wrapper: the ones without a handler
 * answer UNIMPLEMENTED naming the method, through the same adapter so they are counted and logged too.
 */
export function adaptService<M>(
  serviceName: string,
  handlers: ServiceHandlers<M>,
  deps: AdapterDeps,
): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {};
  const table = handlers as Record<string, unknown>;
  for (const method of criServiceMethods(serviceName)) {
    const given = table[method.name];
    const notBuilt = (): Promise<never> =>
      Promise.reject(unimplemented(`${serviceName}/${method.name} is not implemented by cri-ts yet`));
    if (method.responseStream) {
      const handler = (given ?? notBuilt) as StreamHandler<unknown, unknown>;
      impl[method.name] = wrapStream(deps, method, handler);
    } else {
      const handler = (given ?? notBuilt) as UnaryHandler<unknown, unknown>;
      impl[method.name] = wrapUnary(deps, method, handler);
    }
  }
  return impl;
}
