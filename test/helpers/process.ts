// A child process for tests: output captured to a log file, signals for fault injection
// (kill -9, SIGSTOP/SIGCONT), a stop that always ends it, and restart with the same command.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pidAlive, waitFor } from './wait.ts';

export interface ProcessSpec {
  /** A name for messages, e.g. "node-2". */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here (kept across restarts). */
  logPath: string;
}

const STOP_DEADLINE_MS = 5_000;

export class ManagedProcess implements AsyncDisposable {
  private child: ChildProcess | undefined;
  private exit: Promise<void> = Promise.resolve();
  private paused = false;
  private expectedExit = false;
  /** Set when the process ended without stop()/kill(): an unexpected death. */
  unexpectedExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(readonly spec: ProcessSpec) {}

  static start(spec: ProcessSpec): ManagedProcess {
    const managed = new ManagedProcess(spec);
    managed.start();
    return managed;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) throw new Error(`${this.spec.name}: already running (pid ${this.pid})`);
    mkdirSync(dirname(this.spec.logPath), { recursive: true });
    const fd = openSync(this.spec.logPath, 'a');
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: this.spec.env ?? process.env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    this.paused = false;
    this.expectedExit = false;
    this.unexpectedExit = undefined;
    this.exit = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (!this.expectedExit) this.unexpectedExit = { code, signal };
        resolve();
      });
      child.once('error', () => resolve());
    });
  }

  /** Sends a signal now; kill -9 is `signal('SIGKILL')`. Counts as expected. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT' || signal === 'SIGQUIT') this.expectedExit = true;
    this.child?.kill(signal);
  }

  /** kill -9 and wait until it is gone. */
  async kill9(): Promise<void> {
    this.signal('SIGKILL');
    await this.waitExit();
  }

  /** SIGSTOP: the process stays, answers nothing. */
  pause(): void {
    this.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    this.signal('SIGCONT');
    this.paused = false;
  }

  async waitExit(timeoutMs = STOP_DEADLINE_MS * 2): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    await waitFor(async () => {
      await Promise.race([this.exit, new Promise((resolve) => setTimeout(resolve, 100))]);
      return !this.running && !pidAlive(child.pid ?? -1);
    }, { what: `${this.spec.name} (pid ${child.pid}) to exit`, timeoutMs });
  }

  /** SIGCONT if paused, SIGTERM, SIGKILL after a deadline; resolves when the process is gone. */
  async stop(deadlineMs = STOP_DEADLINE_MS): Promise<void> {
    if (!this.running) return;
    if (this.paused) this.resume();
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), deadlineMs);
    try {
      await this.waitExit(deadlineMs * 2);
    } finally {
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  /** Exit code of the last run, once it ended. */
  get exitCode(): number | null {
    return this.child?.exitCode ?? null;
  }

  /** The last `lines` lines of the log, for failure messages. */
  logTail(lines = 40): string {
    if (!existsSync(this.spec.logPath)) return '';
    const text = readFileSync(this.spec.logPath, 'utf8').trimEnd().split('\n');
    return text.slice(-lines).join('\n');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
