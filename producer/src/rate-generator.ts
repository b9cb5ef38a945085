import { randomBytes } from 'node:crypto';
import {
  describeProfile,
  type KvEvent,
  type Logger,
  newEvent,
  type Publisher,
  type RateProfile,
  targetRate,
} from '@kvflow/common';
import type { ProducerMetrics } from './metrics.js';
import type { GeneratorSettings } from './settings.js';
import { SlidingCounter } from './sliding-counter.js';

const TICK_MS = 10;
const WINDOW_MS = 5_000;

/**
 * Synthetic load: publishes random sets and deletes over a bounded key space at the rate the profile gives.
 * Publishes are not awaited one by one (the publisher bounds how many are in flight); when the publisher is
 * saturated the generator falls behind and reports the rate it actually achieves.
 */
export class RateGenerator {
  private profile: RateProfile;
  private startedAt = performance.now();
  private credit = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastTick = performance.now();
  private readonly acked = new SlidingCounter(WINDOW_MS);
  /** Acknowledgements since the last tick: counted in a plain number, moved into the window once per tick. */
  private ackedSinceTick = 0;
  private value = '';
  private readonly settings: GeneratorSettings;
  private readonly publisher: () => Publisher | undefined;

  constructor(
    settings: GeneratorSettings,
    /** The publisher, or an accessor for it (undefined while NATS is not connected: nothing is generated). */
    publisher: Publisher | (() => Publisher | undefined),
    private readonly log: Logger,
    private readonly metrics?: ProducerMetrics,
  ) {
    this.publisher = typeof publisher === 'function' ? publisher : () => publisher;
    this.settings = { ...settings };
    this.profile = settings.profile;
    this.value = randomValue(settings.valueSize);
  }

  /** The generated events' key space and value size. */
  get shape(): { keySpace: number; valueSize: number } {
    return { keySpace: this.settings.keySpace, valueSize: this.settings.valueSize };
  }

  /** Changes the key space and the value size from the next event on (cheap: one new value string). */
  setShape(shape: { keySpace: number; valueSize: number }): void {
    if (shape.valueSize !== this.settings.valueSize) this.value = randomValue(shape.valueSize);
    this.settings.keySpace = shape.keySpace;
    this.settings.valueSize = shape.valueSize;
    this.log.info(shape, 'generated events changed');
  }

  get currentProfile(): RateProfile {
    return this.profile;
  }

  /** Switches the profile now; the new profile's clock starts at zero. */
  setProfile(profile: RateProfile): void {
    this.profile = profile;
    this.startedAt = performance.now();
    this.credit = 0;
    this.log.info({ profile: describeProfile(profile) }, 'rate profile changed');
  }

  start(): void {
    if (this.timer) return;
    this.log.info({ profile: describeProfile(this.profile) }, 'rate generator started');
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Acknowledged events/s over the last few seconds. */
  actualRate(now = performance.now()): number {
    this.countAcks(now);
    return this.acked.rate(now);
  }

  private countAcks(now: number): void {
    if (this.ackedSinceTick === 0) return;
    this.acked.add(this.ackedSinceTick, now);
    this.ackedSinceTick = 0;
  }

  targetRateNow(): number {
    return targetRate(this.profile, (performance.now() - this.startedAt) / 1000);
  }

  private tick(): void {
    const now = performance.now();
    const dt = (now - this.lastTick) / 1000;
    this.lastTick = now;
    const rate = this.targetRateNow();
    this.metrics?.targetRate.set(rate);
    this.metrics?.actualRate.set(this.actualRate(now));
    // Credit never exceeds one second of events: after a stall the generator resumes, it does not stampede.
    this.credit = Math.min(this.credit + rate * dt, Math.max(rate, 1));
    this.pump();
  }

  /**
   * Spends the credit while the publisher has room. Runs on every tick and on every acknowledgement, so above
   * capacity the publish window is refilled as it drains instead of once per tick.
   */
  private pump(): void {
    const publisher = this.publisher();
    if (!publisher) {
      this.credit = 0;
      return;
    }
    while (this.credit >= 1 && publisher.hasCapacity) {
      this.credit -= 1;
      publisher.publish(this.nextEvent()).then(this.onAck, this.onFailure);
    }
  }

  private readonly onAck = () => {
    this.ackedSinceTick++;
    if (this.timer && this.credit >= 1) this.pump();
  };

  // Counted by the publisher's failure metric; the generator just falls behind.
  private readonly onFailure = () => undefined;

  private nextEvent(): KvEvent {
    const key = `key-${Math.floor(Math.random() * this.settings.keySpace)}`;
    return Math.random() < this.settings.deleteRatio
      ? newEvent({ op: 'del', key, src: 'generator' })
      : newEvent({ op: 'set', key, value: this.value, src: 'generator' });
  }
}

function randomValue(size: number): string {
  return randomBytes(Math.ceil(size / 2))
    .toString('hex')
    .slice(0, size);
}
