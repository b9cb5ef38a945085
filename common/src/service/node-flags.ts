/**
 * Node.js flags each service runs with, wherever it runs: the images' CMD (checked against this by the delivery
 * test), and every local process the demo, the tests and the benchmark start.
 *
 * The worker, measured draining 150,000 events inside its pod's memory limit (256Mi: Node sizes its heap from it),
 * five runs each (medians):
 * - `--max-semi-space-size=8`: V8's young generation at 8 MiB per semi-space. In 256Mi Node would take 1 MiB, and a
 *   draining worker (one short-lived message, event and write object after another) then promotes them to the old
 *   generation: 4 MiB drained at 52k events/s, 8 MiB at 75k/s, for 7 MB more RSS (103 against 110 MB; both
 *   without Maglev).
 * - `--no-maglev`: no mid-tier optimising compiler. Hot code goes from the baseline compiler straight to TurboFan,
 *   which a worker reaches within its first second anyway; without Maglev's code and compile zones the peak RSS is
 *   6 MB lower (110 against 116 MB) at the same drain rate (75k against 72k events/s).
 */
export const NODE_FLAGS = {
  producer: [],
  consumer: ['--max-semi-space-size=8', '--no-maglev'],
} as const satisfies Record<string, readonly string[]>;

export type ServiceRole = keyof typeof NODE_FLAGS;

/** The flags for a service's entry point (`consumer/dist/main.js` → the consumer's), none for anything else. */
export function nodeFlagsFor(entry: string): readonly string[] {
  const role = entry.split(/[\\/]/).find((part): part is ServiceRole => Object.hasOwn(NODE_FLAGS, part));
  return role ? NODE_FLAGS[role] : [];
}
