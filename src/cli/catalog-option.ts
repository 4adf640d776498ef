/**
 * The user's own catalog on the command line: `--catalog DIR` (global, repeatable) or the NIXLSIM_CATALOG environment
 * variable (one directory, or several separated by the platform's path delimiter, ':' or ';'). The flag wins when both
 * are given. The directories are laid over the package's models/ (src/catalog/load.ts, loadCatalog) for every command.
 */
import { delimiter } from 'node:path';
import type { Argv } from 'yargs';
import { UserError } from '../errors.js';

export const CATALOG_ENV = 'NIXLSIM_CATALOG';

/** The user's catalog directories: the --catalog values if any were given, else NIXLSIM_CATALOG's, else none. */
export function userCatalogArgs(flag: unknown, env: string | undefined): string[] {
  if (flag !== undefined) {
    const dirs = (Array.isArray(flag) ? flag : [flag]).map(String);
    const empty = dirs.findIndex((d) => d.trim() === '');
    if (empty >= 0) throw new UserError('--catalog needs a directory, got an empty value');
    return dirs;
  }
  if (env === undefined) return [];
  return env.split(delimiter).filter((d) => d.trim() !== '');
}

/** Adds the global --catalog option and the middleware that hands the user's directories to the catalog loader. */
export function withCatalogOption<T>(y: Argv<T>): Argv<T> {
  return y
    .option('catalog', {
      type: 'string',
      global: true,
      requiresArg: true,
      describe:
        `your own catalog directory (llm/, gpu/, node/, transport/, connector/, all-to-all/ as in the package's models/), laid over ` +
        `the package's: an id it shares replaces the package's record, a new id adds one; repeatable; default $${CATALOG_ENV} ` +
        `(directories separated by '${delimiter}')`,
    })
    .middleware(async (argv) => {
      const dirs = userCatalogArgs(argv['catalog'], process.env[CATALOG_ENV]);
      // --help and --version print and stop (yargs runs middleware before): they read no catalog, and loading the
      // loader (yaml, zod) would be most of their time.
      if (argv['help'] === true || argv['version'] === true) return;
      const { useUserCatalog } = await import('../catalog/load.js');
      useUserCatalog(dirs);
    }) as unknown as Argv<T>;
}
