// Lint for what the compiler does not catch: promises left floating or passed where a callback's
// result is ignored (each one a failure nobody sees), and functions too branchy to read in one
// sitting (complexity 10, as Pepr caps it). Type-aware: it reads tsconfig.json.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.esbuild/', '.serverless/', '.cluster/', '.bench-tmp/', 'bench-results/', 'coverage/', '**/*.cjs', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      complexity: ['error', 10],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Tests arrange with whatever reads best; the async rules still hold there.
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: { complexity: 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
