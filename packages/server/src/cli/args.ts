// Flag parsing shared by the subcommands: --name value, --name=value, --flag, -w value (an alias),
// and `--` before positional arguments that start with a dash. With a FlagSpec, a flag the
// command does not declare is a UsageError naming it (the command exits 2).

export interface ParsedArgs {
  /** The last value of each flag given (booleans: "true"). */
  flags: Map<string, string>;
  /** Every value of the flags declared as lists, in order. */
  lists: Map<string, string[]>;
  positional: string[];
}

export interface FlagSpec {
  /** Flags without a value. */
  booleans?: readonly string[];
  /** Flags with a value; the last one given counts. */
  values?: readonly string[];
  /** Flags with a value that may be given more than once (--include a --include b). */
  lists?: readonly string[];
  /** One-letter aliases: { w: 'workspace' } makes `-w ws` mean `--workspace ws`. */
  aliases?: Readonly<Record<string, string>>;
  /** Other names taken with a value (serve's --<section>.<key> overrides). */
  accepts?: (name: string) => boolean;
}

/** A command line the command cannot run: exit code 2, the message on one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The one line a subcommand prints for a UsageError. */
export function usageLine(command: string, err: unknown): string {
  return `cairn ${command}: ${(err as Error).message}; see \`cairn ${command} --help\`\n`;
}

/**
 * Parses `args` by `spec`. The older form, a list of boolean flag names, takes any other flag
 * with a value and rejects none.
 */
export function parseArgs(args: string[], spec: FlagSpec | readonly string[] = []): ParsedArgs {
  const strict = !Array.isArray(spec);
  const s: FlagSpec = Array.isArray(spec) ? { booleans: spec } : (spec as FlagSpec);
  const booleans = new Set(s.booleans ?? []);
  const lists = new Set(s.lists ?? []);
  const values = new Set(s.values ?? []);
  const takesValue = (name: string): boolean => values.has(name) || lists.has(name) || !strict || s.accepts?.(name) === true;
  const out: ParsedArgs = { flags: new Map(), lists: new Map(), positional: [] };
  const set = (name: string, value: string): void => {
    out.flags.set(name, value);
    if (lists.has(name)) out.lists.set(name, [...(out.lists.get(name) ?? []), value]);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      out.positional.push(...args.slice(i + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    } else if (strict && /^-[A-Za-z]$/.test(arg)) {
      const long = s.aliases?.[arg.slice(1)];
      if (long === undefined) throw new UsageError(`unknown flag ${arg}`);
      name = long;
    } else {
      out.positional.push(arg);
      continue;
    }
    if (booleans.has(name)) {
      if (inline !== undefined) throw new UsageError(`flag --${name} takes no value`);
      set(name, 'true');
      continue;
    }
    if (!takesValue(name)) throw new UsageError(`unknown flag --${name}`);
    if (inline !== undefined) {
      set(name, inline);
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`flag --${name} needs a value`);
    set(name, value);
    i++;
  }
  return out;
}
