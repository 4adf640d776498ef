import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';

/**
 * The experiment files the arguments name: a file as given, a directory as its *.yaml files in name order. Files whose
 * name starts with `_` are left out of a directory: they are templates other files extend, not experiments.
 */
export function experimentFiles(targets: string[]): string[] {
  const out: string[] = [];
  for (const t of targets) {
    let isDir = false;
    try {
      isDir = statSync(t).isDirectory();
    } catch {
      // A missing file is reported by the loader, in its words.
    }
    if (!isDir) {
      out.push(t);
      continue;
    }
    const names = readdirSync(t)
      .filter((n) => n.endsWith('.yaml') && !n.startsWith('_'))
      .sort();
    if (names.length === 0) throw new UserError(`directory '${t}' has no experiment files (*.yaml)`);
    out.push(...names.map((n) => join(t, n)));
  }
  // The same file named twice (a directory and a file in it) is checked once.
  return out.filter((f, i) => out.findIndex((g) => resolve(g) === resolve(f)) === i);
}
