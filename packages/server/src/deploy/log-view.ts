// How `cairn cluster` shows its nodes' output: pino's JSON lines made readable by pino-pretty
// (one line each, time and level first), filtered by a level. A node logs each request it serves
// at info ("request"); here those lines count as debug, so the default view (info) shows what
// the cluster does (elections, health changes, snapshots, warnings) and `--log-level debug` adds
// every request. Lines that are not JSON (a node's start line, a stack trace) pass unchanged.

import { prettyFactory } from 'pino-pretty';

export const log_levels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevel = keyof typeof log_levels;
export type LogFormat = 'pretty' | 'json';

export interface LogViewOptions {
  /** Lines below this level are not shown. */
  level: LogLevel;
  format: LogFormat;
  /** ANSI colours (a terminal). */
  color: boolean;
}

export function isLogLevel(v: string): v is LogLevel {
  return Object.hasOwn(log_levels, v);
}

/** A line to show for one line of a node's output, or null to drop it. */
export type LogView = (line: string) => string | null;

export function logView(opts: LogViewOptions): LogView {
  const threshold = log_levels[opts.level];
  const pretty = prettyFactory({
    colorize: opts.color,
    singleLine: true,
    translateTime: 'HH:MM:ss.l',
    // The node id is the line's prefix; pid and hostname are the same on every line.
    ignore: 'pid,hostname,node',
  });
  return function showLine(line) {
    if (!line.startsWith('{')) return line;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return line;
    }
    const logged = entry['level'];
    if (typeof logged !== 'number') return line;
    // A request line is debug here (failed requests, logged at warn, stay warnings).
    const level = entry['msg'] === 'request' && logged === log_levels.info ? log_levels.debug : logged;
    if (level < threshold) return null;
    if (opts.format === 'json') return line;
    return pretty({ ...entry, level }).replace(/\n$/, '');
  };
}
