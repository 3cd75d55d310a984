// Command-line options of the bench scripts: `--name value` or `--name=value` (an empty value after `=` is a value).

/** The value of option `--name`, or `fallback` when it is not given. */
export function arg(name: string, fallback: string): string {
  const argv = process.argv;
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === `--${name}`) return argv[i + 1] ?? fallback;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return fallback;
}

/** Whether the bare switch `--name` is given. */
export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

/** A positive whole number given as `--name n`, or `fallback`; anything else is an error naming the option. */
export function countArg(name: string, fallback: number): number {
  const n = Number(arg(name, String(fallback)));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive whole number`);
  return n;
}
