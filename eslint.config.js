// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'src/features/console/ui/api.gen.ts'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'error',
    },
  },
  {
    // Command-line tools talk to a terminal.
    files: [
      'scripts/**',
      'bench/**',
      'src/main/migrate.ts',
      'src/main/rebuild.ts',
      'src/main/token.ts',
      // The fault suite prints its figures (counts, times).
      'test/faults/**',
      // The console's browser suite prints its bundle size and time to interactive.
      'src/features/console/console.e2e.spec.ts',
    ],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
