import { stringify } from 'smol-toml';
import type { Config } from './config.js';

/** The effective configuration as TOML, loadable again as a config file (`cri-ts config`). */
export function renderConfig(config: Config): string {
  return `# cri-ts effective configuration (built-in defaults, config file, drop-ins, flags)\n${stringify(config)}\n`;
}
