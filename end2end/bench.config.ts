// Benchmarks (not tests): they print figures. Run: npx playwright test --config bench.config.ts
import { defineConfig } from '@playwright/test';
import base from './playwright.config';

export default defineConfig({
  ...base,
  testDir: './bench',
  testMatch: '*.bench.ts',
  timeout: 300_000,
  workers: 1,
});
