// TypeScript is pinned to ~6.0 in package.json: typescript-eslint's peer range stops below 6.1, and npm's
// `latest` TypeScript (7.x, the native compiler) is outside it. Move both together.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const onlyServerSpeaksGrpc = { group: ['@grpc/*'], message: 'Only src/server speaks gRPC; return domain values.' };
const onlyMetricsUsesProm = { group: ['prom-client'], message: 'Metrics go through src/metrics.' };
const noUpward = (...layers) =>
  layers.map((layer) => ({
    group: [`**/${layer}/*`],
    message: `Imports point down: this layer must not use src/${layer}.`,
  }));

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'api/cri/gen/', 'test/critest/out/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './tsconfig.scripts.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner itself tracks.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
    },
  },
  // The layering of docs/ARCHITECTURE.md: server → pod → oci/image → shared. scripts/check-imports.ts finds cycles.
  {
    files: ['src/pod/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [onlyServerSpeaksGrpc, onlyMetricsUsesProm, ...noUpward('server')] },
      ],
    },
  },
  {
    files: ['src/oci/**/*.ts', 'src/image/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [onlyServerSpeaksGrpc, onlyMetricsUsesProm, ...noUpward('server', 'pod')] },
      ],
    },
  },
  {
    files: [
      'src/store/**/*.ts',
      'src/process/**/*.ts',
      'src/errors/**/*.ts',
      'src/log/**/*.ts',
      'src/config/**/*.ts',
      'src/cri/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [onlyServerSpeaksGrpc, onlyMetricsUsesProm, ...noUpward('server', 'pod', 'oci', 'image')] },
      ],
    },
  },
  {
    files: ['src/metrics/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [onlyServerSpeaksGrpc, ...noUpward('server', 'pod', 'oci', 'image')] },
      ],
    },
  },
  {
    files: ['src/server/**/*.ts', 'src/cmd/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [onlyMetricsUsesProm] }] },
  },
);
