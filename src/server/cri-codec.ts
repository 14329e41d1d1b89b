import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { criDescriptor } from '../cri/types.js';

/** The protobufjs reflection of the pinned CRI package, built once from the generated descriptor. */
const root = protobuf.Root.fromJSON(criDescriptor);
root.resolveAll();

/**
 * Go-like decoding: every scalar present with its zero value, int64 as bigint (nanosecond timestamps do not fit
 * a double), enums as numbers, unset messages as null.
 */
const decodeOptions: protobuf.IConversionOptions = {
  longs: BigInt,
  enums: Number,
  defaults: true,
  arrays: true,
  objects: true,
};

export interface CriMethod {
  /** e.g. "RunPodSandbox" */
  name: string;
  /** e.g. "/runtime.v1.RuntimeService/RunPodSandbox" */
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  definition: MethodDefinition<unknown, unknown>;
}

function codecFor(type: protobuf.Type): {
  encode: (value: unknown) => Buffer;
  decode: (bytes: Buffer) => unknown;
} {
  return {
    encode: (value) => Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish()),
    decode: (bytes) => type.toObject(type.decode(bytes), decodeOptions),
  };
}

/** The methods of one CRI service ("runtime.v1.RuntimeService"), in proto order. */
export function criServiceMethods(serviceName: string): CriMethod[] {
  const service = root.lookupService(serviceName);
  return service.methodsArray.map((method) => {
    method.resolve();
    const req = method.resolvedRequestType;
    const res = method.resolvedResponseType;
    if (req === null || res === null) throw new Error(`unresolved CRI method ${method.fullName}`);
    const reqCodec = codecFor(req);
    const resCodec = codecFor(res);
    const path = `/${serviceName}/${method.name}`;
    const requestStream = method.requestStream === true;
    const responseStream = method.responseStream === true;
    return {
      name: method.name,
      path,
      requestStream,
      responseStream,
      definition: {
        path,
        requestStream,
        responseStream,
        originalName: method.name,
        requestSerialize: reqCodec.encode,
        requestDeserialize: reqCodec.decode,
        responseSerialize: resCodec.encode,
        responseDeserialize: resCodec.decode,
      },
    };
  });
}

/** A grpc-js service definition, usable by the server and by test clients alike. */
export function criServiceDefinition(serviceName: string): ServiceDefinition {
  const def: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const m of criServiceMethods(serviceName)) def[m.name] = m.definition;
  return def;
}
