import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Catalog } from '../spec/catalog.js';

/**
 * The package's catalog as the build last loaded it, so that a command need not parse and validate some forty YAML
 * files again (~0.12 s of every command that reads the catalog, docs/performance.md). Hand-written because it is a
 * cache of our own validated records, not a format: the records as JSON, beside a manifest of every file under the
 * kind directories (path, size, modification time). A snapshot whose manifest differs from models/ as it is now (a
 * record edited, added or removed) is ignored and the catalog is loaded from the files, which also reports any
 * mistake in them; so the snapshot can be stale or absent without changing an answer, only the time it takes.
 */

const FORMAT = 1;

type Manifest = [path: string, size: number, mtimeMs: number][];

type Kinds = { [K in keyof Catalog]: [id: string, record: unknown, file: string][] };

interface Snapshot {
  format: number;
  manifest: Manifest;
  kinds: Kinds;
}

/** Every entry of the kind directories (not only .yaml: a misnamed .yml must reach the loader and its error). */
function manifest(dir: string, kinds: readonly string[]): Manifest {
  const out: Manifest = [];
  for (const kind of kinds) {
    const sub = join(dir, kind);
    if (!existsSync(sub)) continue;
    for (const name of readdirSync(sub).sort()) {
      const st = statSync(join(sub, name));
      out.push([`${kind}/${name}`, st.size, st.mtimeMs]);
    }
  }
  return out;
}

const KEYS: (keyof Catalog)[] = ['llms', 'gpus', 'nodes', 'transports', 'connectors', 'allToAll'];

/**
 * Writes the snapshot of `catalog`, loaded from `dir` alone; `fileOf` gives each record's file. Written to a
 * temporary name and renamed, so that a command reading meanwhile sees the old snapshot or the new one.
 */
export function writeSnapshot(file: string, dir: string, kinds: readonly string[], catalog: Catalog, fileOf: (record: object) => string): void {
  const rel = (f: string) => relative(dir, f).split(sep).join('/');
  const snap: Snapshot = {
    format: FORMAT,
    manifest: manifest(dir, kinds),
    kinds: Object.fromEntries(KEYS.map((k) => [k, [...catalog[k]].map(([id, r]) => [id, r, rel(fileOf(r as object))])])) as Kinds,
  };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(snap));
  renameSync(tmp, file);
}

/**
 * The catalog of the snapshot when it matches `dir` as it is now, else undefined. `adopt` is given each record with
 * its file, absolute, and returns the record to keep (the loader freezes it and records where it came from).
 */
export function readSnapshot(file: string, dir: string, kinds: readonly string[], adopt: (record: object, file: string) => object): Catalog | undefined {
  let snap: Snapshot;
  try {
    snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  } catch {
    return undefined;
  }
  if (snap.format !== FORMAT || JSON.stringify(snap.manifest) !== JSON.stringify(manifest(dir, kinds))) return undefined;
  const maps = Object.fromEntries(KEYS.map((k) => [k, new Map(snap.kinds[k].map(([id, r, f]) => [id, adopt(r as object, join(dir, f))]))]));
  return maps as unknown as Catalog;
}
