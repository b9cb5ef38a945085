import { setTimeout as sleep } from 'node:timers/promises';
import {
  backoffMs,
  isCluster,
  type Logger,
  type NatsConnection,
  type Redis,
  rebuildFromStream,
  type StreamSettings,
} from '@kvflow/common';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Tracer } from '@opentelemetry/api';
import { domainLabel, type GuardDomain, guardDomains } from './guard-domains.js';
import type { ConsumerMetrics } from './metrics.js';

// Reads, in one step on the process that holds them, that process' run id (INFO server), the run id its data was
// last checked against (KEYS[1]) and the watermark (KEYS[2]).
const STATE_LUA = `
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
return { run, redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0' }
`;

// Raises the watermark (KEYS[1]), never lowers it (two workers may write it out of order), and only in the Redis
// process whose data the guard has checked (ARGV[2], its run id) while that check still stands (KEYS[2]; a flush
// removes it): a watermark written into a Redis that restarted or lost its data in the meantime would vouch for
// writes it lost. Returns 1 when the data needs checking again.
const RAISE_LUA = `
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
if run ~= ARGV[2] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return 1 end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`;

/** Where the consumer stands: every event up to `ackFloor` is acknowledged; none after `delivered` was handed out. */
interface Position {
  ackFloor: number;
  delivered: number;
}

interface DomainState {
  runId: string;
  checked: string;
  watermark: number;
}

function parseState(reply: unknown): DomainState {
  if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((r) => typeof r === 'string'))
    throw new Error(`unexpected reply to the data check script: ${JSON.stringify(reply)}`);
  const [runId, checked, watermark] = reply as [string, string, string];
  if (!runId) throw new Error('INFO server has no run_id');
  return { runId, checked, watermark: Number(watermark) };
}

/**
 * Notices when Redis lost writes that were acknowledged, and replays them from the stream by itself.
 *
 * Every `intervalMs` the guard reads the consumer's ack floor F from JetStream (every event up to F was applied
 * to Redis and confirmed before it was acked) and then writes F into Redis as the watermark. Redis persists and
 * replicates in order, so if the watermark F survives a crash or a failover, every write made before it survived
 * too.
 *
 * Writes are lost only when a Redis process restarts (without persistence: everything; after an OS crash: the
 * unsynced AOF tail), a replica with a lagging copy takes over, or the data is flushed. So after every
 * (re)connection and on every tick the guard compares the process' run id with the one it last checked against,
 * kept in Redis itself: the same run id means nothing was lost (the common case, e.g. a worker restart, costs one
 * read). A new run id, or none (a flushed or empty Redis), means writes after the watermark may be gone: the guard
 * replays the stream from the watermark + 1 through the same fenced apply (writes that survived come back stale and
 * change nothing), with a lock so one worker repairs at a time, then records the new run id. The replay goes up to
 * the last event delivered, not just the ack floor: acks arrive out of order, so events above the floor may have
 * been acked (and will never come back) although their writes were lost. Only missing writes up to the ack floor
 * count as a repair in the metric (above it they may simply not be applied yet); every replay is logged.
 *
 * On a Redis Cluster each master is checked on its own (see guard-domains): its watermark and checked run id live
 * on its slots, so a master that restarts empty, or a replica promoted with a lagging copy, shows a new run id for
 * that slot group only and the replay restores what it lost.
 */
export class RedisGuard {
  private timer: NodeJS.Timeout | null = null;
  private readonly checks = new Map<string, Promise<void>>();
  private advancing = false;
  private stopped = false;
  /** Per domain, the Redis process whose data was last checked: the only one its watermark may be raised in. */
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly d: {
      nc: NatsConnection;
      redis: Redis;
      stream: StreamSettings;
      metrics: ConsumerMetrics;
      log: Logger;
      intervalMs: number;
      /** With tracing on: a repaired event's re-apply is a span in its own trace. */
      tracer?: Tracer | undefined;
    },
  ) {}

  /** Checks every domain now, then keeps the watermarks up to date and re-checks after every reconnection. */
  async start(): Promise<void> {
    this.d.redis.on('ready', this.onReconnect);
    if (isCluster(this.d.redis)) this.d.redis.on('+node', this.onReconnect);
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        await Promise.all(guardDomains(this.d.redis).map((domain) => this.check(domain)));
        break;
      } catch (err) {
        this.d.log.warn(
          { err: (err as Error).message },
          'redis topology incomplete; retrying the data check',
        );
        await sleep(backoffMs(attempt, 250, 5_000));
      }
    }
    this.timer = setInterval(() => void this.advance(), this.d.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.d.redis.off('ready', this.onReconnect);
    this.d.redis.off('+node', this.onReconnect);
  }

  private readonly onReconnect = () => {
    if (this.stopped) return;
    try {
      for (const domain of guardDomains(this.d.redis)) void this.check(domain);
    } catch {
      // topology still incomplete: the next tick checks every domain it does not know
    }
  };

  private async position(): Promise<Position> {
    const info = await (await jetstreamManager(this.d.nc)).consumers.info(
      this.d.stream.stream,
      this.d.stream.consumer,
    );
    return { ackFloor: info.ack_floor.stream_seq, delivered: info.delivered.stream_seq };
  }

  private async advance(): Promise<void> {
    if (this.advancing) return;
    this.advancing = true;
    try {
      const domains = guardDomains(this.d.redis);
      const { ackFloor } = await this.position();
      await Promise.all(domains.map((domain) => this.raise(domain, ackFloor)));
    } catch {
      // NATS unavailable or the topology incomplete: the next tick tries again
    } finally {
      this.advancing = false;
    }
  }

  private async raise(domain: GuardDomain, ackFloor: number): Promise<void> {
    if (this.checks.has(domain.id)) return; // a check raises the watermark itself when it is done
    const runId = this.verified.get(domain.id);
    if (!runId) {
      void this.check(domain); // a domain the topology just gained (or one whose check gave up)
      return;
    }
    try {
      const { watermarkKey, checkedRunKey } = domain;
      const again = await this.d.redis.eval(RAISE_LUA, 2, watermarkKey, checkedRunKey, ackFloor, runId);
      if (again === 1) void this.check(domain); // the reconnection's own check may not have run yet
    } catch {
      // that Redis is unavailable: the worker reports outages itself, the next tick tries again
    }
  }

  /** One check per domain at a time; a check that finds a gap repairs it before resolving. */
  check(domain: GuardDomain): Promise<void> {
    let running = this.checks.get(domain.id);
    if (!running) {
      running = this.checkOnce(domain).finally(() => this.checks.delete(domain.id));
      this.checks.set(domain.id, running);
    }
    return running;
  }

  private async checkOnce(domain: GuardDomain): Promise<void> {
    const { redis, log } = this.d;
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const state = parseState(await redis.eval(STATE_LUA, 2, domain.checkedRunKey, domain.watermarkKey));
        if (state.checked === state.runId) {
          this.verified.set(domain.id, state.runId);
          return;
        }
        const position = await this.position();
        if (state.watermark >= position.delivered) {
          await redis.set(domain.checkedRunKey, state.runId);
          this.verified.set(domain.id, state.runId);
          return;
        }
        const locked = await redis.set(domain.lockKey, String(process.pid), 'PX', 60_000, 'NX');
        if (locked !== 'OK') {
          // Another worker is repairing: wait for it, then look again.
          await sleep(500);
          continue;
        }
        try {
          await this.repair(domain, state, position);
          this.verified.set(domain.id, state.runId);
        } finally {
          await redis.del(domain.lockKey).catch(() => undefined);
        }
        return;
      } catch (err) {
        log.warn(
          { redis: domainLabel(redis, domain), err: (err as Error).message },
          'redis data check failed; retrying',
        );
        await sleep(backoffMs(attempt, 250, 5_000));
      }
    }
  }

  private async repair(domain: GuardDomain, state: DomainState, position: Position): Promise<void> {
    const { log, metrics, nc, redis, stream } = this.d;
    const { watermark, runId } = state;
    log.warn(
      {
        redis: domainLabel(redis, domain),
        watermark,
        ackFloor: position.ackFloor,
        delivered: position.delivered,
      },
      'redis restarted, failed over or was emptied: checking the events after its watermark against the stream',
    );
    const started = performance.now();
    const acked = await rebuildFromStream(nc, redis, stream, {
      fromSeq: watermark + 1,
      toSeq: position.ackFloor,
      tracer: this.d.tracer,
    });
    const beyond = await rebuildFromStream(nc, redis, stream, {
      fromSeq: Math.max(watermark, position.ackFloor) + 1,
      toSeq: position.delivered,
      tracer: this.d.tracer,
    });
    // Recorded before the watermark is raised: the raise only lands in a process whose check stands.
    await redis.set(domain.checkedRunKey, runId);
    await redis.eval(RAISE_LUA, 2, domain.watermarkKey, domain.checkedRunKey, position.ackFloor, runId);
    if (acked.applied > 0) {
      metrics.dataLossRepairs.inc();
      metrics.repairedEvents.inc(acked.applied);
    }
    log.warn(
      {
        redis: domainLabel(redis, domain),
        fromSeq: watermark + 1,
        toSeq: position.delivered,
        missing: acked.applied,
        present: acked.stale,
        aboveAckFloor: { applied: beyond.applied, present: beyond.stale },
        tookMs: Math.round(performance.now() - started),
      },
      acked.applied > 0
        ? 'redis lost acknowledged writes; repaired them from the stream'
        : 'redis lost nothing acknowledged',
    );
  }
}
