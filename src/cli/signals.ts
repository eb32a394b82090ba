// Graceful stop on SIGINT/SIGTERM: the first signal asks for a clean stop, a second one
// exits at once (the next start reconciles whatever was in flight).

export function untilStopSignal(onSecond?: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const handler = (signal: NodeJS.Signals) => {
      if (received) {
        onSecond?.();
        process.stderr.write(`\nsecond ${signal}: exiting now; the next start reconciles unfinished work\n`);
        process.exit(130);
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    process.on('SIGHUP', handler);
  });
}
