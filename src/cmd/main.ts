import { loadConfig } from '../config/load.js';
import { renderConfig } from '../config/render.js';
import { ConfigError } from '../config/schema.js';
import { isCriError } from '../errors/errors.js';
import { createLogger } from '../log/logger.js';
import { Daemon } from '../server/daemon.js';
import { runtimeName, runtimeVersion } from '../version.js';
import { configFlagsHelp, parseConfigFlags, UsageError } from './flags.js';

const mainHelp = `${runtimeName} ${runtimeVersion}: a Kubernetes Container Runtime Interface (CRI v1) runtime

Usage:
  cri-ts [serve] [options]   serve the CRI socket (the default command)
  cri-ts config [options]    print the effective configuration as TOML
  cri-ts version             print version information
  cri-ts COMMAND --help      help for a command

${configFlagsHelp}`;

const configHelp = `Usage: cri-ts config [options]

Prints the effective configuration (built-in defaults, config file, drop-ins, then flags) as TOML that can be
used as a config file.

${configFlagsHelp}`;

const versionHelp = `Usage: cri-ts version

Prints the runtime name and version, the CRI API version and the Node.js version.`;

async function serve(args: string[]): Promise<number> {
  const flags = parseConfigFlags(args);
  if (flags.help) {
    console.log(mainHelp);
    return 0;
  }
  const config = await loadConfig({ file: flags.configFile, dropInDir: flags.configDir, flags: flags.layer });
  const log = createLogger(config.log_level);
  // A stray rejection in background work must not take the node's runtime down with it.
  process.on('unhandledRejection', (err) => log.error({ err }, 'Unhandled rejection'));
  const daemon = new Daemon(config, log);
  await daemon.start();
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'Received signal, shutting down');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      daemon.stop().then(resolve, (err: unknown) => {
        log.error({ err }, 'Unclean shutdown');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}

async function printConfig(args: string[]): Promise<number> {
  const flags = parseConfigFlags(args);
  if (flags.help) {
    console.log(configHelp);
    return 0;
  }
  const config = await loadConfig({ file: flags.configFile, dropInDir: flags.configDir, flags: flags.layer });
  process.stdout.write(renderConfig(config));
  return 0;
}

function printVersion(args: string[]): number {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(versionHelp);
    return 0;
  }
  if (args.length > 0) throw new UsageError(`unexpected argument ${args[0] ?? ''}`);
  console.log(`Name: ${runtimeName}\nVersion: ${runtimeVersion}\nRuntimeApiVersion: v1\nNode: ${process.version}`);
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  switch (first) {
    case 'serve':
      return serve(rest);
    case 'config':
      return printConfig(rest);
    case 'version':
      return printVersion(rest);
    case undefined:
      return serve([]);
    default:
      if (first.startsWith('-')) return serve(argv);
      throw new UsageError(`unknown command "${first}" (see cri-ts --help)`);
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ConfigError || isCriError(err)) {
      console.error(`cri-ts: ${err.message}`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    } else {
      console.error('cri-ts: fatal:', err);
      process.exitCode = 1;
    }
  },
);
