#!/usr/bin/env node
// undrop: the CLI shell over the library. Parses arguments, builds the
// context, runs one command, renders errors once, and always cleans up.
import './color-env.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, usageError } from '../errors.js';
import { interruptedSignal, runAllCleanups, setInterruptNotice, signalExitCode } from '../postgres/cleanup.js';
import { type Context, type GlobalOptions, makeContext } from './context.js';
import { errorDocument, note, printJson, reportError } from './output.js';
import { EXAMPLES, addExamples } from './examples.js';
import { commands } from './commands/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('undrop')
    .description('Get dropped PostgreSQL data back: probe every recovery source, find the destructive transaction, extract the lost tables and copy them back safely.')
    .version(pkg.version, '-V, --version')
    .option('-c, --config <file>', 'inventory file (default ./undrop.yaml or $UNDROP_CONFIG)')
    .option('--json', 'print one JSON document on stdout; human text goes to stderr')
    .option('--yes', 'answer yes to confirmations (production writes still need the flags that ask for them)')
    .option('--no-input', 'never prompt; implied when stdin is not a terminal')
    .option('--work-dir <dir>', 'where temporary instances and restores live (default $UNDROP_WORK_DIR or the system temp dir)')
    .option('--pg-bin <dir>', 'folder of PostgreSQL programs to use first')
    .addOption(new Option('--os-user <name>', 'OS user that runs PostgreSQL server programs when undrop runs as root').default(undefined))
    .option('--program-timeout <duration>', 'stop a restore, dump or pgBackRest program after this long (default 6h)')
    .option('--replay-timeout <duration>', 'stop waiting for WAL replay to reach the target after this long (default 6h)')
    .option('--no-color', 'no colours (also: NO_COLOR=1, or stderr not a terminal)')
    .option('-q, --quiet', 'print only results and errors (no progress, no notes)')
    .option('-v, --verbose', 'print every progress update as its own line')
    .option('--debug', 'add stack traces to errors')
    .showHelpAfterError('(run undrop help or undrop <command> --help for usage)')
    .showSuggestionAfterError(true)
    .helpCommand('help [command]', 'show help for a command')
    .addHelpText('after', EXAMPLES)
    .exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const ctx = (): Context => makeContext(program.opts<GlobalOptions>());
  for (const register of commands) register(program, ctx);
  addExamples(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // `undrop … | head` closes stdout early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT.ok);
  });
  setInterruptNotice((signal) => note(`\n${signal}: stopping and removing temporary instances…`));
  const program = buildProgram();
  let code: number = EXIT.ok;
  try {
    await program.parseAsync(argv);
    code = typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      code = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(e.code) ? EXIT.ok : EXIT.usage;
      // Scripts reading --json get a document for a parser error too (the text went to stderr).
      if (code !== EXIT.ok && argv.includes('--json')) {
        printJson(errorDocument(usageError('BAD_USAGE', e.message.replace(/^error: /, ''), 'Run undrop help <command> for its options and examples.')));
      }
    } else {
      // Clean up before printing so the message is the last thing the user sees.
      await runAllCleanups();
      const signal = interruptedSignal();
      // After a signal the run's own errors (connections closed under it) are noise: the stop line was printed.
      code = signal ? signalExitCode(signal) : reportError(e);
    }
  } finally {
    await runAllCleanups();
  }
  return code;
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
