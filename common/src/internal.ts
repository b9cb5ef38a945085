// Internals for kvflow's own tests (like nats.js's internal_mod.ts): the pieces of the store and the publisher
// that are tested on their own. Not for services; they use the public entry.
export { readPubAck } from './publish/pub-ack.js';
export { scriptGroups } from './store/apply.js';
export {
  decodeClusterCursor,
  encodeClusterCursor,
  keySlot,
  masterAnchors,
  SLOT_COUNT,
} from './store/cluster.js';
export { isScanCursor, SCAN_CURSOR_MAX, SCAN_CURSOR_PATTERN } from './store/scan.js';
