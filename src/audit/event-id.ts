/**
 * A fresh audit event id: a UUID version 7 (RFC 9562), the event's time in milliseconds in its
 * first 48 bits and 74 random bits after. Ids made later sort later, so the stores' id indexes
 * (the shard's primary key, the outboxes' dedupe key) grow at one end instead of taking a random
 * page per event: measured in a shard, chunks of 50 with a commit each, about 33 µs per event
 * against 50 µs for random (version 4) ids (docs/performance.md).
 */
export function eventId(timeMs: number): string {
  const time = Math.max(0, Math.floor(timeMs)).toString(16).padStart(12, '0').slice(-12);
  // A version 4 UUID supplies the random bits and the variant; its version digit (index 14) becomes 7.
  const random = crypto.randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
