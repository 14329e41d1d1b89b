import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { ImageServiceMethods, RuntimeServiceMethods } from '../cri/types.js';
import { ImageService } from '../image/image-service.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { ExitWatcher } from '../oci/exit-watcher.js';
import { createOciRuntime, type OciRuntime } from '../oci/oci-runtime.js';
import { CniNetwork } from '../pod/cni.js';
import { cgroupHierarchies } from '../pod/pod-cgroup.js';
import { PodSandboxes } from '../pod/sandbox-manager.js';
import type { ServiceHandlers } from './adapter.js';
import { imageHandlers } from './image-handlers.js';
import { runtimeInfoHandlers } from './runtime-info.js';
import { sandboxHandlers } from './sandbox-handlers.js';

export interface Services {
  runtime: ServiceHandlers<RuntimeServiceMethods>;
  image: ServiceHandlers<ImageServiceMethods>;
  /** Stops background work (exit watching, garbage collection); containers keep running. */
  close(): Promise<void>;
}

/** Builds the domain services from the configuration and restores their state, before anything is served. */
export async function composeServices(config: Config, log: Logger, metrics: Metrics): Promise<Services> {
  const images = new ImageService({
    root: config.root,
    registriesConf: config.image.registries_conf,
    authFile: config.image.global_auth_file,
    pauseImage: config.image.pause_image,
    maxConcurrentDownloads: config.image.max_concurrent_downloads,
    log,
    metrics,
  });
  await images.init();

  const runtimes = new Map<string, OciRuntime>();
  for (const [name, handler] of Object.entries(config.runtimes)) {
    runtimes.set(
      name,
      createOciRuntime(name, handler, {
        cgroupManager: config.runtime.cgroup_manager,
        log: log.child({ handler: name }),
        cgroupV1View: handler.cgroup_v1_view,
      }),
    );
  }
  const exitDir = join(config.runroot, 'exits');
  const pods = new PodSandboxes({
    config,
    log,
    images,
    runtime: (name) => runtimes.get(name === '' ? config.runtime.default_runtime : name),
    cni: new CniNetwork({
      confDir: config.network.cni_config_dir,
      pluginDirs: config.network.cni_plugin_dirs,
      cacheDir: join(config.root, 'cni'),
      log: log.child({ component: 'cni' }),
    }),
    cgroups: await cgroupHierarchies(),
    exitDir,
  });
  await pods.init();
  const exits = new ExitWatcher(
    exitDir,
    (id, code) => pods.pauseExited(id, code),
    log.child({ component: 'exits' }),
  );
  await exits.start();

  // Containers arrive with the containers issue; until then a sandbox has none to stop or remove.
  const noContainers = (): Promise<void> => Promise.resolve();
  return {
    runtime: {
      ...runtimeInfoHandlers(config),
      ...sandboxHandlers(pods, { stopContainers: noContainers, removeContainers: noContainers }),
    },
    image: imageHandlers(images),
    close: async () => {
      exits.close();
      await images.settled();
    },
  };
}
