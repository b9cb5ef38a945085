import { resolve } from 'node:path';

/** The repository root (stack/dist/ is two levels down), where the services' built entry points are. */
export const ROOT = resolve(import.meta.dirname, '../..');
