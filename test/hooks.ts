// Mocha root hooks: one database per run, dropped at the end (see support/test-env.ts).
import { createTestDatabase, dropTestDatabase } from './support/test-env.js';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60_000);
    await createTestDatabase();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await dropTestDatabase();
  },
};
