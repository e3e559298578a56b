/** What to do about a database schema behind this build (kept apart: no migration runner here). */
export const MIGRATE_HINT = 'run `npm run migrate` (in a container: node dist/src/main/migrate.js)';
