// node host-network.ts snapshot FILE | restore FILE BRIDGE...: the harness's wrapper around
// test/fixtures/host-network.ts (what CNI plugins change on the host, put back after the run).
import { readFileSync, writeFileSync } from 'node:fs';
import { restoreHostNetwork, snapshotHostNetwork, type HostNetworkSnapshot } from '../fixtures/host-network.ts';

const [command, file, ...bridges] = process.argv.slice(2);
if (command === 'snapshot' && file !== undefined) {
  writeFileSync(file, JSON.stringify(await snapshotHostNetwork()));
} else if (command === 'restore' && file !== undefined) {
  await restoreHostNetwork(JSON.parse(readFileSync(file, 'utf8')) as HostNetworkSnapshot, bridges);
} else {
  console.error('usage: host-network.ts snapshot FILE | restore FILE BRIDGE...');
  process.exitCode = 2;
}
