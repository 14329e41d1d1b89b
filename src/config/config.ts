import type { LogLevel } from '../log/logger.js';

/** One low-level OCI runtime the pods can select with their runtime handler (`[runtimes.NAME]`). */
export interface RuntimeHandlerConfig {
  /** Absolute path of the runtime binary (runc, crun). */
  runtime_path: string;
  /** The runtime's state directory (its `--root`); "" means `<runroot>/<name>`. */
  runtime_root: string;
  /** Only "oci" (a runc-compatible CLI under conmon) exists today. */
  runtime_type: 'oci';
  /** Extra global arguments put before every runtime command. */
  runtime_args: string[];
  /** Absolute path of the per-container monitor (conmon). */
  monitor_path: string;
  /**
   * On a hybrid cgroup host, run the runtime in a mount namespace without the cgroup2 mount so it manages the
   * v1 controllers (crun refuses hybrid hosts otherwise; see src/oci/oci-runtime.ts). No effect elsewhere.
   */
  cgroup_v1_view: boolean;
}

export type CgroupManager = 'cgroupfs' | 'systemd';

/** The effective configuration: built-in defaults, then the config file, its drop-ins, then flags. */
export interface Config {
  /** Persistent state: images, layers, container metadata. */
  root: string;
  /** Volatile state that does not survive a reboot: sockets, exit files, pinned namespaces. */
  runroot: string;
  log_level: LogLevel;
  api: {
    /** unix:///path of the CRI socket. */
    listen: string;
    stream_address: string;
    /** 0 picks a free port at start. */
    stream_port: number;
    grpc_max_recv_msg_size: number;
    grpc_max_send_msg_size: number;
    /** Seconds in-flight calls get to finish on SIGTERM before they are cancelled. */
    shutdown_grace_seconds: number;
  };
  runtime: {
    default_runtime: string;
    cgroup_manager: CgroupManager;
    /**
     * Clamp requested oom_score_adj values to the daemon's own, as a process without CAP_SYS_RESOURCE cannot
     * lower it (the pause container's usual -998 fails otherwise).
     */
    restrict_oom_score_adj: boolean;
    /** The RuntimeDefault seccomp profile (Docker/containers-common format); missing file: cri-ts's own fallback deny list. */
    seccomp_profile: string;
    /**
     * The pids limit every container gets unless kubelet's pod cgroup is tighter; 0 means none (kubelet's
     * podPidsLimit on the pod cgroup is then the only bound).
     */
    pids_limit: number;
  };
  runtimes: Record<string, RuntimeHandlerConfig>;
  image: {
    pause_image: string;
    /** containers-registries.conf v2 file; its `.d` drop-in directory beside it is read too. */
    registries_conf: string;
    /** Registry credentials in the docker config.json format, used when a pull carries none. */
    global_auth_file: string;
    max_concurrent_downloads: number;
  };
  network: {
    cni_config_dir: string;
    cni_plugin_dirs: string[];
  };
  metrics: {
    enable_metrics: boolean;
    metrics_host: string;
    metrics_port: number;
  };
}

export const defaultConfigFile = '/etc/cri-ts/cri-ts.toml';
export const defaultConfigDir = '/etc/cri-ts/cri-ts.d';

export function defaultConfig(): Config {
  return {
    root: '/var/lib/cri-ts',
    runroot: '/run/cri-ts',
    log_level: 'info',
    api: {
      listen: 'unix:///run/cri-ts/cri-ts.sock',
      stream_address: '127.0.0.1',
      stream_port: 0,
      grpc_max_recv_msg_size: 80 * 1024 * 1024,
      grpc_max_send_msg_size: 80 * 1024 * 1024,
      shutdown_grace_seconds: 10,
    },
    runtime: {
      default_runtime: 'runc',
      cgroup_manager: 'cgroupfs',
      restrict_oom_score_adj: true,
      seccomp_profile: '/usr/share/containers/seccomp.json',
      pids_limit: 0,
    },
    runtimes: {
      runc: {
        runtime_path: '/usr/sbin/runc',
        runtime_root: '',
        runtime_type: 'oci',
        runtime_args: [],
        monitor_path: '/usr/bin/conmon',
        cgroup_v1_view: false,
      },
      crun: {
        runtime_path: '/usr/bin/crun',
        runtime_root: '',
        runtime_type: 'oci',
        runtime_args: [],
        monitor_path: '/usr/bin/conmon',
        cgroup_v1_view: true,
      },
    },
    image: {
      pause_image: 'registry.k8s.io/pause:3.10',
      registries_conf: '/etc/containers/registries.conf',
      global_auth_file: '/root/.docker/config.json',
      max_concurrent_downloads: 3,
    },
    network: {
      cni_config_dir: '/etc/cni/net.d',
      cni_plugin_dirs: ['/opt/cni/bin', '/usr/lib/cni'],
    },
    metrics: {
      enable_metrics: true,
      metrics_host: '127.0.0.1',
      metrics_port: 9537,
    },
  };
}
