// Imported first by main.ts, before any module that decides about colours at
// load time (the prompts' and spinners' colour libraries read the environment
// once): --no-color, NO_COLOR, or a stderr that is not a terminal (a log file
// must not collect escape codes) all mean no colour anywhere.
if (process.argv.includes('--no-color') || process.env.NO_COLOR || !process.stderr.isTTY) {
  process.env.NO_COLOR = '1';
  delete process.env.FORCE_COLOR;
}

/** True when output may carry colour (ora's spinner colour follows it). */
export const colorEnabled = (): boolean => !process.env.NO_COLOR;
