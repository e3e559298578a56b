/**
 * The event store as commands see it: values of encrypted configurations are encrypted on their
 * way in and decrypted when a command reads its streams, so deciders stay pure and plain while
 * nothing in the log is. `readAll` (projections, exports, rebuilds) passes the stored events
 * through untouched: read tables and Redis get the ciphertext.
 *
 * Which fields: an event whose data says `isEncrypted: true` has every text field named
 * `…value` (value, previousValue, defaultValue, proposedValue, currentValue) and `secret`
 * (webhook signing secrets) encrypted with its tenant's data key (`data.tenantId`).
 */
import type { EventStore, NewEvent, RecordedEvent } from '../event-store/event-store.js';
import { EncryptionUnavailableError, isCiphertext } from './envelope.js';
import type { ValueCipher } from './value-cipher.js';

const SECRET_FIELD = /(value|^secret)$/i;

type Data = Record<string, unknown>;

const isEncryptedData = (data: unknown): data is Data & { tenantId: string } =>
  data !== null &&
  typeof data === 'object' &&
  (data as Data).isEncrypted === true &&
  typeof (data as Data).tenantId === 'string';

/** Whether an event (new or recorded) carries encrypted fields. */
export const carriesEncrypted = (event: { data: unknown }): boolean => isEncryptedData(event.data);

export function encryptingEventStore(
  store: EventStore,
  cipher: ValueCipher | undefined,
): EventStore {
  const seal = async (event: NewEvent): Promise<NewEvent> => {
    if (!isEncryptedData(event.data)) return event;
    if (!cipher) throw new EncryptionUnavailableError();
    const data: Data = { ...event.data };
    for (const [field, v] of Object.entries(data)) {
      if (SECRET_FIELD.test(field) && typeof v === 'string' && !isCiphertext(v)) {
        data[field] = await cipher.encrypt(event.data.tenantId, v);
      }
    }
    return { ...event, data };
  };
  const open = async (event: RecordedEvent): Promise<RecordedEvent> => {
    if (!isEncryptedData(event.data)) return event;
    if (!cipher) throw new EncryptionUnavailableError();
    const data: Data = { ...event.data };
    for (const [field, v] of Object.entries(data)) {
      if (SECRET_FIELD.test(field) && isCiphertext(v)) {
        data[field] = await cipher.decrypt(event.data.tenantId, v);
      }
    }
    return { ...event, data };
  };
  return {
    async append(requests) {
      const sealed = await Promise.all(
        requests.map(async (r) => ({ ...r, events: await Promise.all(r.events.map(seal)) })),
      );
      return store.append(sealed);
    },
    async readStream(id, options) {
      const result = await store.readStream(id, options);
      if (!result.events.some(carriesEncrypted)) return result;
      return { ...result, events: await Promise.all(result.events.map(open)), decrypted: true };
    },
    readAll: (o) => store.readAll(o),
    headPosition: () => store.headPosition(),
    waitForEvents: (ms, signal, since) => store.waitForEvents(ms, signal, since),
    wakeMark: () => store.wakeMark(),
    ping: () => store.ping(),
    close: () => store.close(),
  };
}
