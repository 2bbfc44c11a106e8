// Minimal flag parsing shared by the subcommands: --name value, --name=value, --flag.

export interface ParsedArgs {
  flags: Map<string, string>;
  positional: string[];
}

export function parseArgs(args: string[], booleanFlags: readonly string[] = []): ParsedArgs {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const name = arg.slice(2);
    if (booleanFlags.includes(name)) {
      flags.set(name, 'true');
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`flag --${name} needs a value`);
    flags.set(name, value);
    i++;
  }
  return { flags, positional };
}
