// A broken invariant ends the process: it is logged once, plainly, and the process exits with a
// non-zero code so that its supervisor (`cairn cluster`, the compose restart policy, systemd)
// starts it again. It is never answered as a 500 while the node carries on.
import { RaftInvariantError } from '@cairn/raft';
import type { Logger } from 'pino';

/** Exit code of a process ended by a broken invariant (EX_SOFTWARE). */
export const invariant_exit_code = 70;

export function isBrokenInvariant(err: unknown): err is RaftInvariantError {
  return err instanceof RaftInvariantError;
}

/** Ends the process on a broken invariant; returns (does nothing) for any other error. */
export function endOnBrokenInvariant(err: unknown, logger: Logger, where: string): void {
  if (!isBrokenInvariant(err)) return;
  logger.fatal({ err: err.message, stack: err.stack, where }, `broken invariant in ${where}: ${err.message}; the process ends so that its supervisor restarts it`);
  process.stderr.write(`cairn: broken invariant in ${where}: ${err.message}\n`);
  process.exit(invariant_exit_code);
}
