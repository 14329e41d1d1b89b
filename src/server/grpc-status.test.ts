import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { CriError, type ErrorKind } from '../errors/errors.js';
import { toGrpcStatus } from './grpc-status.js';

describe('toGrpcStatus', () => {
  const expected: [ErrorKind, status][] = [
    ['NotFound', status.NOT_FOUND],
    ['AlreadyExists', status.ALREADY_EXISTS],
    ['InvalidArgument', status.INVALID_ARGUMENT],
    ['FailedPrecondition', status.FAILED_PRECONDITION],
    ['ResourceExhausted', status.RESOURCE_EXHAUSTED],
    ['Unavailable', status.UNAVAILABLE],
    ['DeadlineExceeded', status.DEADLINE_EXCEEDED],
    ['Canceled', status.CANCELLED],
    ['Unimplemented', status.UNIMPLEMENTED],
    ['Internal', status.INTERNAL],
  ];
  for (const [kind, code] of expected) {
    it(`maps ${kind} to ${status[code]} and keeps the message`, () => {
      const st = toGrpcStatus(new CriError(kind, `pod abc: ${kind}`));
      assert.equal(st.code, code);
      assert.equal(st.codeName, status[code]);
      assert.equal(st.details, `pod abc: ${kind}`);
    });
  }

  it('maps errors outside the taxonomy to INTERNAL', () => {
    const st = toGrpcStatus(new TypeError('x is undefined'));
    assert.equal(st.code, status.INTERNAL);
    assert.equal(st.details, 'x is undefined');
  });

  it('survives a thrown non-error', () => {
    const st = toGrpcStatus('boom');
    assert.equal(st.code, status.INTERNAL);
    assert.match(st.details, /boom/);
  });
});
