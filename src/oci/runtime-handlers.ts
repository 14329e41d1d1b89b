import { access, constants } from 'node:fs/promises';
import type { RuntimeHandlerConfig } from '../config/config.js';

export interface HandlerCheck {
  name: string;
  ok: boolean;
  /** Why the handler cannot run containers, naming the missing binary. */
  problem?: string;
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether a runtime handler's binaries (the OCI runtime and its monitor) are there to run. */
export async function checkHandler(name: string, handler: RuntimeHandlerConfig): Promise<HandlerCheck> {
  for (const path of [handler.runtime_path, handler.monitor_path]) {
    if (!(await executable(path))) return { name, ok: false, problem: `${path} is missing or not executable` };
  }
  return { name, ok: true };
}
