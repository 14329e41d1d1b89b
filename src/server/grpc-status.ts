import { status } from '@grpc/grpc-js';
import { isCriError, type ErrorKind } from '../errors/errors.js';

const codeOfKind: Record<ErrorKind, status> = {
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  InvalidArgument: status.INVALID_ARGUMENT,
  FailedPrecondition: status.FAILED_PRECONDITION,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
  Unavailable: status.UNAVAILABLE,
  DeadlineExceeded: status.DEADLINE_EXCEEDED,
  Canceled: status.CANCELLED,
  Unimplemented: status.UNIMPLEMENTED,
  Internal: status.INTERNAL,
};

export interface GrpcStatus {
  code: status;
  /** The status name as Prometheus labels and logs show it, e.g. "NOT_FOUND". */
  codeName: string;
  details: string;
}

/** The single place where an error becomes a gRPC status. Anything not from the taxonomy is INTERNAL. */
export function toGrpcStatus(err: unknown): GrpcStatus {
  const code = isCriError(err) ? codeOfKind[err.kind] : status.INTERNAL;
  const details = err instanceof Error ? err.message : `unexpected error: ${String(err)}`;
  return { code, codeName: status[code], details };
}
