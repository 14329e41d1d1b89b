/**
 * JSON that keeps bigints (CRI int64 fields such as resources and timestamps): a bigint is written as
 * {"$bigint":"<digits>"} and read back as a bigint, so stored CRI messages round-trip exactly.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

/** The parsed value; the caller asserts the shape it stored (JSON cannot check it). */
export function fromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const digits = (v as Record<string, unknown>)['$bigint'];
      if (keys.length === 1 && typeof digits === 'string' && /^-?\d+$/.test(digits)) return BigInt(digits);
    }
    return v;
  });
}
