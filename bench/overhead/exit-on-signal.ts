// Preloaded (node --import) into contenders when profiling, so SIGTERM ends the process through
// process.exit() and `--cpu-prof` gets to write its profile.
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
