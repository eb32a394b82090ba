// Opens a URL in the person's browser, quietly: a machine without a desktop, or without the
// opener, simply gets nothing opened. Never throws, never waits.

import { spawn } from 'node:child_process';

/** `force`: asked for (--open), so try even without a display. */
export function openBrowser(url: string, force = false): boolean {
  let command: string;
  let args: string[];
  if (process.platform === 'darwin') [command, args] = ['open', [url]];
  else if (process.platform === 'win32') [command, args] = ['cmd', ['/c', 'start', '', url]];
  else {
    // Without a display xdg-open may fall back to a text browser: not on a headless box.
    if (!force && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return false;
    [command, args] = ['xdg-open', [url]];
  }
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
    return true;
  } catch {
    return false;
  }
}
