// Passwords never reach logs, reports or process titles. Everything that is
// printed or written to the incident log goes through redact().

const URI_PASSWORD = /(postgres(?:ql)?:\/\/[^:/?#@\s]*:)([^@/?#\s]*)(@)/gi;
const KV_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)/gi;
const ENV_PASSWORD = /(\bPGPASSWORD=)(\S+)/g;

export function redact(text: string): string {
  return text
    .replace(URI_PASSWORD, '$1***$3')
    .replace(KV_PASSWORD, '$1***')
    .replace(ENV_PASSWORD, '$1***');
}

/** Quote one argument for display as a shell command a DBA could paste. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(program: string, args: readonly string[]): string {
  return [program, ...args].map(shellQuote).map(redact).join(' ');
}
