// jco --jco-import module: preopens the directory named by WASICLAW_WORKSPACE
// for the guest, at the same path, before the component is instantiated.
//   WASICLAW_WORKSPACE=/srv/ws jco serve --jco-import scripts/jco-preopen.mjs dist/wasiclaw-http.wasm
// Why: jco 1.35.0 (its preview2-shim 0.26.1) gives a component no preopened
// directory at all and has no flag for one, so a guest on it sees no files.
// The guest then finds its workspace by that name (WASICLAW_WORKSPACE).
// jco spawns the runner script from its output directory (process.argv[1]
// until the runner renames itself), whose node_modules holds the shim the
// component imports: resolving from there gives the very module instance
// the component uses, not another copy.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const ws = process.env.WASICLAW_WORKSPACE;
if (ws) {
  const shim = createRequire(process.argv[1]).resolve("@bytecodealliance/preview2-shim/filesystem");
  const { _addPreopen } = await import(pathToFileURL(shim).href);
  _addPreopen(ws, resolve(ws));
}
