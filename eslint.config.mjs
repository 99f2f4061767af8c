import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', '.data/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code is replayed by Temporal and must be deterministic: it may
    // import only the workflow SDK, pure modules beside it, and types.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { regex: '^\\.\\./', allowTypeImports: true, message: 'Workflows import modules outside workflows/ only as types (import type); move pure helpers into workflows/.' },
          { regex: '^node:', message: 'Workflows must not use Node built-ins; put effects in activities.' },
          { regex: '^@temporalio/(?!workflow$|common$)', message: 'Workflows import only @temporalio/workflow.' },
          { regex: '^(mongoose|nodemailer|isolated-vm|express|pino|fs|path|crypto|child_process|net|http|https|os)$', message: 'Workflows must not do I/O; put effects in activities.' },
        ],
      }],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'fetch'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Use the workflow uuid4()/random from @temporalio/workflow.' }, { object: 'Date', property: 'now', message: 'Workflow time comes from the workflow clock (Date in workflow is replay-safe, but say so explicitly).' }],
    },
  },
  {
    files: ['**/*.cjs', 'jest.config.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
