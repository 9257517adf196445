/**
 * Refuses an unsupported Node.js when the SDK loads (imported first by index.ts, so it runs
 * before any other SDK module). The range is @strand/base's {@link NODE_VERSION_MIN}.
 */
import { assertNodeVersion } from "@strand/base";

assertNodeVersion();
