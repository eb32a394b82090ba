// Progress of long copies on a terminal: bytes done, total, rate. Silent when not a TTY.

export function byteProgress(label: string): ((bytes: number, total: number) => void) & { done(): void } {
  const started = Date.now();
  let last = 0;
  const tty = process.stderr.isTTY === true;
  const mib = (b: number) => (b / 1048576).toFixed(1);
  const show = (bytes: number, total: number) => {
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    const pct = total > 0 ? Math.floor((bytes / total) * 100) : 100;
    process.stderr.write(
      `\r${label}: ${mib(bytes)} of ${mib(total)} MiB (${pct}%), ${mib(bytes / seconds)} MiB/s   `,
    );
  };
  const fn = (bytes: number, total: number) => {
    if (!tty) return;
    const now = Date.now();
    if (now - last < 200 && bytes < total) return;
    last = now;
    show(bytes, total);
  };
  return Object.assign(fn, {
    done: () => {
      if (tty && last > 0) process.stderr.write('\n');
    },
  });
}
