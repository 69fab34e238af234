// What the build tells the tests (tests/browser/CMakeLists.txt sets these), and playwright-core
// from the build tree's node_modules (installed there by the npm ci fixture).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests through ctest`);
  return value;
}

export const chatdPath = required('CHAT_CHATD');
export const chatPath = required('CHAT_CLI');
export const depsDir = required('CHAT_BROWSER_DEPS');
export const artefactsDir = required('CHAT_BROWSER_ARTEFACTS');
export const chromiumPath = process.env.CHAT_CHROMIUM || '/usr/bin/chromium';

const require = createRequire(path.join(depsDir, 'package.json'));
export const { chromium } = require('playwright-core');

export function screenshotPath(name) {
  const dir = path.join(artefactsDir, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}
