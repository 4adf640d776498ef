/**
 * Preloaded (`node --import`) into a child process of bench/e2e.ts: counts the time V8 spends collecting garbage
 * (perf_hooks' 'gc' entries) and, as the process exits, writes one line to stderr,
 * `nixlsim-e2e-gc {"gcMs":..,"wallMs":..,"maxRssMB":..}`: the collections' total, the process's life so far and its
 * peak resident set. The child's own output is left as it is.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks';

let gcMs = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
observer.observe({ entryTypes: ['gc'] });

process.on('exit', () => {
  // Entries still queued for the observer are delivered now, not after exit.
  for (const e of observer.takeRecords()) gcMs += e.duration;
  const line = { gcMs, wallMs: performance.now(), maxRssMB: process.resourceUsage().maxRSS / 1024 };
  process.stderr.write(`nixlsim-e2e-gc ${JSON.stringify(line)}\n`);
});
