/**
 * Attribute names of the OpenTelemetry messaging semantic conventions (still "development", so written here as
 * the conventions advise instead of imported from the incubating entry), and kvflow's own where none is defined:
 * the conventions have no NATS-specific attributes.
 */
export const MESSAGING_SYSTEM = 'messaging.system';
export const MESSAGING_DESTINATION = 'messaging.destination.name';
export const MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const MESSAGING_BODY_SIZE = 'messaging.message.body.size';
export const MESSAGING_CONSUMER_GROUP = 'messaging.consumer.group.name';
export const MESSAGING_BATCH_COUNT = 'messaging.batch.message_count';
export const DB_SYSTEM = 'db.system.name';
export const DB_OPERATION = 'db.operation.name';
export const DB_BATCH_SIZE = 'db.operation.batch.size';

/** The JetStream stream sequence: the event's position, and the fence of its apply. */
export const STREAM_SEQUENCE = 'kvflow.stream.sequence';
/** How many times JetStream has delivered the message (1 = first delivery, more = a redelivery). */
export const NUM_DELIVERED = 'kvflow.num_delivered';
/** Milliseconds from the producer accepting the event (its `ts`) to a worker fetching it. */
export const TIME_IN_STREAM_MS = 'kvflow.time_in_stream_ms';
export const EVENT_OP = 'kvflow.event.op';
export const EVENT_SOURCE = 'kvflow.event.source';
export const APPLY_OUTCOME = 'kvflow.apply.outcome';
export const PUBLISH_DUPLICATE = 'kvflow.publish.duplicate';

/** The attributes every messaging span of kvflow has: NATS, the subject, and what the span does. */
export function messagingAttributes(
  subject: string,
  type: 'send' | 'process',
  name: 'publish' | 'process',
): Record<string, string> {
  return {
    [MESSAGING_SYSTEM]: 'nats',
    [MESSAGING_DESTINATION]: subject,
    [MESSAGING_OPERATION_TYPE]: type,
    [MESSAGING_OPERATION_NAME]: name,
  };
}
