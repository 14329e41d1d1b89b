/** What a pod's network attachment gave it, read from the final CNI result of the chain. */
export interface CniAttachment {
  /** Addresses in CIDR notation, as the plugins returned them (callers strip the prefix for CRI's pod IP). */
  ips: { address: string; gateway?: string; interfaceIndex?: number }[];
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  network: string;
  /** The raw final result, as cached for DEL. */
  result: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Reads a result of any spec version: 0.3.0 and later list `ips` (with `interface` indexes into `interfaces`);
 * 0.1.0/0.2.0 had `ip4`/`ip6` objects instead. Unknown or malformed parts are skipped rather than fatal: the
 * plugins succeeded, and the raw result is kept for DEL either way.
 */
export function toAttachment(network: string, result: unknown): CniAttachment {
  const ips: CniAttachment['ips'] = [];
  const interfaces: CniAttachment['interfaces'] = [];
  if (isRecord(result)) {
    if (Array.isArray(result['interfaces'])) {
      for (const i of result['interfaces']) {
        const name = isRecord(i) ? str(i['name']) : undefined;
        if (!isRecord(i) || name === undefined) continue;
        const mac = str(i['mac']);
        const sandbox = str(i['sandbox']);
        interfaces.push({
          name,
          ...(mac === undefined ? {} : { mac }),
          ...(sandbox === undefined ? {} : { sandbox }),
        });
      }
    }
    if (Array.isArray(result['ips'])) {
      for (const ip of result['ips']) {
        const address = isRecord(ip) ? str(ip['address']) : undefined;
        if (!isRecord(ip) || address === undefined) continue;
        const gateway = str(ip['gateway']);
        const index = ip['interface'];
        ips.push({
          address,
          ...(gateway === undefined ? {} : { gateway }),
          ...(typeof index === 'number' && Number.isInteger(index) ? { interfaceIndex: index } : {}),
        });
      }
    } else {
      for (const key of ['ip4', 'ip6']) {
        const legacy = result[key];
        const address = isRecord(legacy) ? str(legacy['ip']) : undefined;
        if (!isRecord(legacy) || address === undefined) continue;
        const gateway = str(legacy['gateway']);
        ips.push({ address, ...(gateway === undefined ? {} : { gateway }) });
      }
    }
  }
  return { ips, interfaces, network, result };
}
