import { describeEventStoreConformance } from '../conformance.js';
import { InMemoryEventLog } from './in-memory-event-store.js';

// One log for every store the suite opens: they see each other's appends, as processes do.
const log = new InMemoryEventLog();

describeEventStoreConformance('in memory', { open: async () => log.open() });
