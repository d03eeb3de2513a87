// A long run on an SSH session outside tmux/screen dies with the connection
// (SIGHUP). One line before the long step says so while there is time to act.

/** The warning, or undefined when the session survives a dropped connection (or is not SSH). Pure. */
export function detachedSessionWarning(env: NodeJS.ProcessEnv): string | undefined {
  if (!(env.SSH_CONNECTION || env.SSH_TTY || env.SSH_CLIENT)) return undefined;
  const term = env.TERM ?? '';
  if (env.TMUX || env.STY || term.startsWith('screen') || term.startsWith('tmux')) return undefined;
  return 'Warning: this SSH session is not inside tmux or screen: if the connection drops, the run stops half way (it cleans up, but the work is lost). For a long recovery, start it inside tmux (tmux new -s undrop) or screen.';
}
