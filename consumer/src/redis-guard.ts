import {
  backoffMs,
  type Logger,
  type NatsConnection,
  type Redis,
  rebuildFromStream,
  type StreamSettings,
} from '@kvflow/common';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ConsumerMetrics } from './metrics.js';

/** Where the guard keeps its watermark and its repair lock (plain keys: no `kv:` prefix, never user data). */
export const WATERMARK_KEY = 'kvflow:watermark';
/** The run id of the Redis process the data was last checked against (INFO server `run_id`). */
const CHECKED_RUN_KEY = 'kvflow:checked-run';
const REPAIR_LOCK_KEY = 'kvflow:repair-lock';

// Raises the watermark, never lowers it (two workers may write it out of order), and only in the Redis process
// whose data the guard has checked (ARGV[2], its run id): a watermark written into a Redis that restarted in the
// meantime would vouch for writes it lost. Returns 1 when that process is no longer the one answering.
const RAISE_LUA = `
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
if run ~= ARGV[2] then return 1 end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * Notices when Redis lost writes that were acknowledged, and replays them from the stream by itself.
 *
 * Every `intervalMs` the guard reads the consumer's ack floor F from JetStream (every event up to F was applied
 * to Redis and confirmed before it was acked) and then writes F into Redis as the watermark. Redis persists in
 * order (AOF), so if the watermark F survives a crash, every write made before it survived too.
 *
 * Writes are lost only when the Redis process restarts (without persistence: everything; after an OS crash: the
 * unsynced AOF tail) or its data is flushed. So after every (re)connection the guard compares Redis' run id with
 * the one it last checked against, kept in Redis itself: the same run id means nothing was lost (the common case,
 * e.g. a worker restart, costs two reads). A new run id, or none (a flushed or empty Redis) while the stream has
 * acknowledged events, means the writes after the watermark may be gone: the guard replays the stream from the
 * watermark + 1 to the ack floor through the same fenced apply (writes that survived come back stale and change
 * nothing), with a lock so one worker repairs at a time, then records the new run id. Only a replay that found
 * missing writes counts as a repair in the metric; every replay is logged.
 */
export class RedisGuard {
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private stopped = false;
  /** The Redis process whose data was last checked: the only one the watermark may be raised in. */
  private verifiedRunId: string | null = null;

  constructor(
    private readonly d: {
      nc: NatsConnection;
      redis: Redis;
      stream: StreamSettings;
      metrics: ConsumerMetrics;
      log: Logger;
      intervalMs: number;
    },
  ) {}

  /** Checks once now, then keeps the watermark up to date and re-checks after every reconnection. */
  async start(): Promise<void> {
    this.d.redis.on('ready', this.onReady);
    await this.check();
    this.timer = setInterval(() => void this.advance(), this.d.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.d.redis.off('ready', this.onReady);
  }

  private readonly onReady = () => {
    if (!this.stopped) void this.check();
  };

  private async ackFloor(): Promise<number> {
    const info = await (await jetstreamManager(this.d.nc)).consumers.info(
      this.d.stream.stream,
      this.d.stream.consumer,
    );
    return info.ack_floor.stream_seq;
  }

  private async advance(): Promise<void> {
    if (this.checking || !this.verifiedRunId) return; // a check raises the watermark itself when it is done
    try {
      const floor = await this.ackFloor();
      const restarted = await this.d.redis.eval(RAISE_LUA, 1, WATERMARK_KEY, floor, this.verifiedRunId);
      if (restarted === 1) void this.check(); // the reconnection's own check may not have run yet
    } catch {
      // NATS or Redis unavailable: the next tick tries again; the worker reports outages itself
    }
  }

  /** One check at a time; a check that finds a gap repairs it before resolving. */
  check(): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const runId = await this.runId();
        if ((await this.d.redis.get(CHECKED_RUN_KEY)) === runId) {
          this.verifiedRunId = runId;
          return;
        }
        const floor = await this.ackFloor();
        const watermark = Number((await this.d.redis.get(WATERMARK_KEY)) ?? '0');
        if (watermark >= floor) {
          await this.d.redis.set(CHECKED_RUN_KEY, runId);
          this.verifiedRunId = runId;
          return;
        }
        const locked = await this.d.redis.set(REPAIR_LOCK_KEY, String(process.pid), 'PX', 60_000, 'NX');
        if (locked !== 'OK') {
          // Another worker is repairing: wait for it, then look again.
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        try {
          await this.repair(watermark, floor, runId);
          await this.d.redis.set(CHECKED_RUN_KEY, runId);
          this.verifiedRunId = runId;
        } finally {
          await this.d.redis.del(REPAIR_LOCK_KEY).catch(() => undefined);
        }
        return;
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message }, 'redis data check failed; retrying');
        await new Promise((r) => setTimeout(r, backoffMs(attempt, 250, 5_000)));
      }
    }
  }

  private async runId(): Promise<string> {
    const info = await this.d.redis.info('server');
    const id = /^run_id:(\S+)/m.exec(info)?.[1];
    if (!id) throw new Error('INFO server has no run_id');
    return id;
  }

  private async repair(watermark: number, floor: number, runId: string): Promise<void> {
    const { log, metrics } = this.d;
    log.warn(
      { watermark, ackFloor: floor },
      'redis restarted or was emptied: checking the acknowledged events after its watermark against the stream',
    );
    const started = performance.now();
    const result = await rebuildFromStream(this.d.nc, this.d.redis, this.d.stream, {
      fromSeq: watermark + 1,
      toSeq: floor,
    });
    await this.d.redis.eval(RAISE_LUA, 1, WATERMARK_KEY, floor, runId);
    if (result.applied > 0) {
      metrics.dataLossRepairs.inc();
      metrics.repairedEvents.inc(result.applied);
    }
    log.warn(
      {
        fromSeq: result.firstSeq,
        toSeq: result.lastSeq,
        missing: result.applied,
        present: result.stale,
        tookMs: Math.round(performance.now() - started),
      },
      result.applied > 0
        ? 'redis lost acknowledged writes; repaired them from the stream'
        : 'redis lost nothing acknowledged',
    );
  }
}
