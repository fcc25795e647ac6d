// Worker threads' entry files for `new Worker`, resolved from this file beside main.ts: in the
// binary every bundled module has main.ts's import.meta.url, and `bun build --compile` keeps its
// entry points (package.json's build script lists each worker) laid out as under src/.
export const BACKUP_WORKER = new URL("./ops/backup-worker.ts", import.meta.url);
