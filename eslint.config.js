// Type-aware lint: promises must be awaited or handled, no `any` in our code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'data', 'dist', 'web/dist', 'web/.dist-*', 'coverage', 'tmp', 'eslint.config.js', 'bin', 'scripts/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Fastify hooks and plugins are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The web app runs in browsers. Its globals (window, document, …) come from
    // the DOM lib of web/tsconfig.app.json and are checked by the type checker;
    // Node's globals do not exist there.
    files: ['web/src/**/*.{ts,tsx}'],
    rules: { 'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', 'global'] },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      // `res.json() as T` reads better in assertions than `res.json<T>()`.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
);
