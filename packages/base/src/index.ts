/**
 * @strand/base: the ground floor every Strand package may import. It imports no Strand
 * package and no third-party one. The pure Raft core imports only `@strand/base/assert`,
 * which pulls in no clock, timer or I/O.
 */
export { onAbort } from "./abort.ts";
export { AssertionFailure, assert } from "./assert.ts";
export { Coalescer, forEachConcurrently } from "./concurrency.ts";
export {
  FileTooLargeError,
  fsyncDir,
  isErrno,
  readAt,
  readFileBounded,
  TMP_SUFFIX,
  unlinkIfExists,
  writeAt,
  writeFileAtomic,
} from "./files.ts";
export { Histogram, type HistogramSummary } from "./histogram.ts";
export {
  type ChildLogger,
  type LogFields,
  type Logger,
  type LogMethod,
  noopLogger,
} from "./logger.ts";
export { Mutex } from "./mutex.ts";
export { assertNodeVersion, NODE_VERSION_MIN, nodeVersionProblem } from "./node-version.ts";
export { idle, sleep } from "./sleep.ts";
