/**
 * @strand/broker: the node process: gRPC services, replica manager, replication, routing.
 * Exports only what other packages use (the `strand server` command, cross-package tests and
 * scripts); the broker's own tests import its modules by relative path.
 * @packageDocumentation
 */
export {
  ConfigError,
  envName,
  loadNodeConfig,
  type NodeConfig,
  parseFlags,
  SETTINGS,
  type SettingSpec,
} from "./config/index.ts";
export { NodeStartError } from "./node/format.ts";
export { type BoundPorts, BrokerNode, type BrokerNodeOptions } from "./node/node.ts";
