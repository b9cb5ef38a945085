/**
 * Named readiness conditions. A process is ready when every condition holds; `/readyz` reports each one so an
 * operator sees which dependency is missing.
 */
export class Readiness {
  private readonly conditions = new Map<string, boolean>();

  constructor(names: string[]) {
    for (const n of names) this.conditions.set(n, false);
  }

  set(name: string, ok: boolean): void {
    this.conditions.set(name, ok);
  }

  get ready(): boolean {
    for (const ok of this.conditions.values()) if (!ok) return false;
    return true;
  }

  report(): Record<string, boolean> {
    return Object.fromEntries(this.conditions);
  }
}
