import { readFileSync } from 'node:fs';

/** A package's version, from the package.json one folder above the calling module (`dist/` sits next to it). */
export function packageVersion(moduleUrl: string): string {
  const url = new URL('../package.json', moduleUrl);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
