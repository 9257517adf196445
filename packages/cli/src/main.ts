#!/usr/bin/env -S node --conditions=strand-source
/**
 * The `strand` bin. It turns on Node's on-disk compile cache first, so every later run reuses
 * the compiled (and type-stripped) modules, which halves start-up time, then runs cli.ts.
 */
import { enableCompileCache } from "node:module";

enableCompileCache();
await import("./cli.ts");
