/**
 * The nixlsim binary (bundled as dist/cli.js): runs the command line in this process (cli.ts) and exits with its code.
 */
import { hideBin } from 'yargs/helpers';
import { runCli } from './cli.js';

// A reader that closes the pipe early (`nixlsim run ... --json | head -c 10`) wanted no more: stop quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
process.exitCode = await runCli(hideBin(process.argv));
