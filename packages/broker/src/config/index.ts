/** Node configuration: the settings table and the loader. */

export { type ParsedFlags, parseFlags } from "./flags.ts";
export {
  type AuthMechanism,
  type ClientAuth,
  ConfigError,
  type ConfigSources,
  envName,
  fieldName,
  type HostPort,
  type LogLevel,
  loadNodeConfig,
  type NodeConfig,
  type NodeRole,
  parseHostPort,
  parseSetting,
  type SettingSource,
  type SettingValue,
  type Voter,
} from "./load.ts";
export { SETTINGS, type SettingKind, type SettingSpec, settingSpec } from "./settings.ts";
