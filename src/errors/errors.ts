/**
 * The one error taxonomy of cri-ts. Domain code throws these; src/server maps them to gRPC status codes in one
 * place (grpc-status.ts). Never match on message text: switch on `kind`.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'ResourceExhausted'
  | 'Unavailable'
  | 'DeadlineExceeded'
  | 'Canceled'
  | 'Unimplemented'
  | 'Internal';

export class CriError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = `CriError(${kind})`;
    this.kind = kind;
  }
}

export const notFound = (message: string): CriError => new CriError('NotFound', message);
export const alreadyExists = (message: string): CriError => new CriError('AlreadyExists', message);
export const invalidArgument = (message: string): CriError => new CriError('InvalidArgument', message);
export const failedPrecondition = (message: string): CriError => new CriError('FailedPrecondition', message);
export const unavailable = (message: string): CriError => new CriError('Unavailable', message);
export const unimplemented = (message: string): CriError => new CriError('Unimplemented', message);
export const internal = (message: string, cause?: unknown): CriError =>
  new CriError('Internal', message, cause === undefined ? undefined : { cause });

export function isCriError(err: unknown): err is CriError {
  return err instanceof CriError;
}

/**
 * The error to throw when long work stops because its AbortSignal fired. The adapter aborts with a CriError
 * (Canceled or DeadlineExceeded) as the reason, so that reason is passed through; anything else is a cancel.
 */
export function abortError(signal: AbortSignal): CriError {
  const reason: unknown = signal.reason;
  if (reason instanceof CriError) return reason;
  return new CriError('Canceled', 'operation canceled', { cause: reason });
}

/** Throws the abort error when the signal has fired; call between steps of long work. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError(signal);
}
