// Mocha root hooks: one database per run, dropped at the end (see support/test-env.ts); every
// answer a test server sent is checked against its route's declaration (support/response-check.ts).
import { createTestDatabase, dropTestDatabase } from './support/test-env.js';
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
    const violations = takeViolations();
    if (violations.length) throw new Error(report(violations));
  },
};
