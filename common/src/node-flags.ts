/**
 * Node.js flags each service runs with, wherever it runs: the images' CMD (checked against this by the delivery
 * test), and every local process the demo, the tests and the benchmark start.
 *
 * The worker caps V8's young generation at 8 MiB per semi-space. Node 24 sizes it from the machine's memory, and a
 * draining worker (one short-lived message, event and write object after another) grows it until the heap is
 * about 160 MB with 30-60 MB of it live. At 8 MiB the heap stays near 55 MB and the peak RSS under full load falls
 * from about 215 MB to about 125 MB, at the same drain rate (`npm run bench`). Smaller than that promotes
 * short-lived objects to the old generation, and both memory and speed get worse.
 */
export const NODE_FLAGS = {
  producer: [],
  consumer: ['--max-semi-space-size=8'],
} as const satisfies Record<string, readonly string[]>;

export type ServiceRole = keyof typeof NODE_FLAGS;

/** The flags for a service's entry point (`consumer/dist/main.js` → the consumer's), none for anything else. */
export function nodeFlagsFor(entry: string): readonly string[] {
  const role = entry.split(/[\\/]/).find((part): part is ServiceRole => Object.hasOwn(NODE_FLAGS, part));
  return role ? NODE_FLAGS[role] : [];
}
