/**
 * The node's pino logger: JSON lines on stdout, level from `log.level`, `nodeId` on every
 * line; components get child loggers (`component: "controller" | "replica" | ...`).
 */
import type { ChildLogger } from "@strand/base";
import { pino } from "pino";
import type { NodeConfig } from "../config/index.ts";

/** The subset of pino the node uses (child loggers + the four levels): base's ChildLogger. */
export type NodeLogger = ChildLogger;

/** A pino logger for `config` writing synchronously to stdout (no lines lost on exit). */
export function createNodeLogger(config: Pick<NodeConfig, "nodeId" | "logLevel">): NodeLogger {
  return pino(
    { level: config.logLevel, base: { pid: process.pid, nodeId: config.nodeId } },
    pino.destination({ sync: true }),
  );
}
