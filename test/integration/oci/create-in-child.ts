// Run as a separate Node process by oci-runtime.test.ts: creates one container through conmon, prints
// {"pid":…,"monitorPid":…,"conmonFirstPid":…} and then dies by SIGKILL, as a crashing daemon would. The
// container must keep running under its conmon.
import { pino } from 'pino';
import type { RuntimeHandlerConfig } from '../../../src/config/config.js';
import { createOciRuntime } from '../../../src/oci/oci-runtime.js';
import type { ContainerCreateOptions } from '../../../src/oci/runtime-types.js';

const input = JSON.parse(process.argv[2] ?? '{}') as {
  config: RuntimeHandlerConfig;
  opts: ContainerCreateOptions;
};
const runtime = createOciRuntime('runc', input.config, {
  cgroupManager: 'cgroupfs',
  log: pino({ level: 'silent' }),
});
let conmonFirstPid = 0;
const created = await runtime.create(
  {
    ...input.opts,
    placeMonitor: (pid) => {
      conmonFirstPid = pid;
      return Promise.resolve();
    },
  },
  new AbortController().signal,
);
process.stdout.write(`${JSON.stringify({ ...created, conmonFirstPid })}\n`, () => {
  process.kill(process.pid, 'SIGKILL');
});
