import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromJson, toJson } from './json.js';

describe('toJson/fromJson', () => {
  it('round-trips bigints, nested and in arrays, beyond 2^53', () => {
    const value = { a: 9223372036854775807n, b: [1n, -5n], c: { d: 'x', e: null, f: 1.5 } };
    assert.deepEqual(fromJson(toJson(value)), value);
  });
  it('leaves look-alike objects with other keys alone', () => {
    const value = { $bigint: '1', other: true };
    assert.deepEqual(fromJson(toJson(value)), value);
  });
});
