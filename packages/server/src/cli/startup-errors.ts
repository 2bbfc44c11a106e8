// The operating system's refusals at start (a port in use, a path that cannot be created or
// written) as one line naming the port or the path, instead of a stack trace: they are the
// operator's to fix, not a bug. Anything else is left to the caller (a stack trace).

/** Codes that are about the machine's ports and paths, not about Cairn. */
export const startup_error_codes: ReadonlySet<string> = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS', 'ENOSPC', 'ENOENT', 'ELOOP', 'ENAMETOOLONG']);

interface SystemError {
  code?: unknown;
  syscall?: unknown;
  path?: unknown;
  dest?: unknown;
  address?: unknown;
  port?: unknown;
}

const why: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  ENOENT: 'no such file or directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * One line for a system error at start, or null when `err` is not one. `listen EADDRINUSE` names
 * the address and port; file errors name the path and what was being done (mkdir, open, ...).
 */
export function startupErrorLine(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as SystemError;
  if (typeof e.code !== 'string' || !startup_error_codes.has(e.code)) return null;
  const code = e.code;
  const syscall = typeof e.syscall === 'string' ? e.syscall : '';
  if (syscall === 'listen' || syscall === 'bind' || code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL') {
    const where = typeof e.port === 'number' ? `${typeof e.address === 'string' ? e.address : '*'}:${e.port}` : 'the address';
    if (code === 'EADDRINUSE') return `port ${where} is already in use (EADDRINUSE): another process listens there; stop it or choose another port (--port, server.port)`;
    if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where} (EADDRNOTAVAIL): no interface of this machine has that address (--host, server.host)`;
    if (code === 'EACCES') return `cannot listen on ${where} (EACCES): ports below 1024 need privileges; choose a port from 1024 up (--port, server.port)`;
    return `cannot listen on ${where} (${code})`;
  }
  if (typeof e.path !== 'string') return null;
  const action = syscall === '' ? 'use' : syscall;
  const target = typeof e.dest === 'string' ? `${e.path} -> ${e.dest}` : e.path;
  return `cannot ${action} ${target} (${code}): ${why[code] ?? code}; check server.data_dir (--data-dir) and the permissions of its parent directories`;
}
