/**
 * The CRI v1 message types, generated from the pinned proto (api/cri), for every layer to use. Decoded messages
 * carry every field (proto3 defaults filled in, int64 as bigint, unset messages as null); what a handler returns
 * may leave fields out: `Init<T>` is that looser shape.
 */
export * from '../../api/cri/gen/cri.js';

export type Init<T> = T extends bigint
  ? bigint | number
  : T extends Uint8Array
    ? Uint8Array
    : T extends readonly (infer U)[]
      ? Init<U>[]
      : T extends object
        ? { [K in keyof T]?: Init<T[K]> | undefined }
        : T;
