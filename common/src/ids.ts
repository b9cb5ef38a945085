import { randomUUID } from 'node:crypto';

/** Event ids double as JetStream `Nats-Msg-Id` values, so a retried publish is deduplicated by the stream. */
export function newEventId(): string {
  return randomUUID();
}
