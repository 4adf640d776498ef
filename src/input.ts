/**
 * Reading a user's input file: a regular file of bounded size, or one clear error. A device (/dev/zero), a FIFO or a
 * directory given where a file belongs would otherwise be read for ever or fail with a stack trace; a file larger
 * than any experiment, catalog record or measurement could be is refused before it fills memory. Traces are streamed
 * and have no size bound, but must be regular files too.
 */
import { readFileSync, statSync } from 'node:fs';
import { quoted, shownPath, UserError } from './errors.js';

/** The largest text input read whole (an experiment, a catalog record, a measurement file): 64 MiB. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** Checks that `file` is a regular file (following links), or throws a UserError saying what it is instead. */
export function checkRegularFile(file: string, what: string): number {
  if (file.includes('\0')) throw new UserError(`${what} ${quoted(file)}: a path cannot hold the NUL character (\\0)`);
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message);
    throw new UserError(`${what} '${shownPath(file)}': ${why}`);
  }
  if (st.isFile()) return st.size;
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
  throw new UserError(`${what} '${shownPath(file)}' is ${kind}; expected a regular file`);
}

/** The text of a regular file of at most MAX_INPUT_BYTES. */
export function readInputText(file: string, what: string): string {
  const size = checkRegularFile(file, what);
  if (size > MAX_INPUT_BYTES) throw new UserError(`${what} '${shownPath(file)}' is ${(size / 2 ** 20).toFixed(0)} MiB; nixlsim reads such files whole, up to ${MAX_INPUT_BYTES / 2 ** 20} MiB`);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    // A regular file by its metadata that cannot be read as one (/proc/self/mem: EIO; a file made unreadable since).
    const e = err as NodeJS.ErrnoException;
    throw new UserError(`${what} '${shownPath(file)}' cannot be read: ${e.code === 'EACCES' ? 'permission denied' : (e.code ?? e.message)}`);
  }
}
