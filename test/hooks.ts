// Mocha root hooks: one database and Redis key prefix per run, removed at the end (see
// support/test-env.ts); every answer a test server sent is checked against its route's
// declaration (support/response-check.ts).
import {
  createTestDatabase,
  deleteKeys,
  dropTestDatabase,
  redisPrefix,
} from './support/test-env.js';
import { report, setCurrentTest, takeViolations } from './support/response-check.js';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    await createTestDatabase();
  },
  beforeEach(this: Mocha.Context) {
    setCurrentTest(this.currentTest?.fullTitle());
  },
  afterEach() {
    setCurrentTest(undefined);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await dropTestDatabase();
    // What a harness's own clean-up missed (a write that landed after it, a harness never
    // closed): the run leaves no key behind.
    await deleteKeys(redisPrefix);
    const violations = takeViolations();
    if (violations.length) throw new Error(report(violations));
  },
};
