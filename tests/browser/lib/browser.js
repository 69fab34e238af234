// Debian's Chromium driven by playwright-core (never a browser download), and the page as a
// user sees it: helpers that type and click as a person would and wait on what the page shows.
import assert from 'node:assert/strict';
import { chromium, chromiumPath, screenshotPath } from './env.js';

// Flags that work on a headless build machine; playwright gives each launch a fresh profile.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const PHONE = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};
export const DESKTOP = { viewport: { width: 1100, height: 760 } };

export function launch() {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
}

// Console errors that are the point of a test (the server was killed on purpose).
const EXPECTED_CONSOLE = [/WebSocket connection to .* failed/, /ERR_CONNECTION_REFUSED/];

// `beforeLoad(page)` runs before the page is loaded (to route its WebSocket, for example).
export async function openPage(browser, url, options = DESKTOP, beforeLoad = async () => {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const chatPage = new ChatPage(page, context);
  await beforeLoad(page);
  await page.goto(url);
  await page.locator('#login-user').waitFor();
  return chatPage;
}

export class ChatPage {
  problems = [];

  constructor(page, context) {
    this.page = page;
    this.context = context;
    page.on('pageerror', (error) => this.problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const text = message.text();
      if (EXPECTED_CONSOLE.some((pattern) => pattern.test(text))) return;
      this.problems.push(`console error: ${text}`);
    });
  }

  async createAccount(username, password) {
    const { page } = this;
    await page.fill('#create-user', username);
    await page.fill('#create-password', password);
    await page.fill('#create-repeat', password);
    await page.click('#create-form button[type=submit]');
    await this.waitLoggedIn(username);
  }

  // `canonical`: the name as registered, when `username` is typed in another case.
  async login(username, password, canonical = username) {
    const { page } = this;
    await page.fill('#login-user', username);
    await page.fill('#login-password', password);
    await page.press('#login-password', 'Enter');
    await this.waitLoggedIn(canonical);
  }

  async waitLoggedIn(username) {
    await this.page.locator(`body[data-user="${username}"] #chat-view`).waitFor();
  }

  async logoff() {
    await this.page.click('#logoff');
    await this.page.locator('#login-view').waitFor();
    await this.waitNotice('Logged out.');
  }

  async send(to, body) {
    const { page } = this;
    await page.fill('#send-to', to);
    await page.fill('#send-body', body);
    await page.press('#send-body', 'Enter');
    await this.waitForMessage(body);
    assert.match(await page.textContent('#send-result'), /^Sent to /);
    assert.equal(await page.inputValue('#send-body'), '', 'the send box is emptied');
  }

  // The message line whose body is exactly `body`.
  message(body) {
    return this.page.locator('#messages li.message').filter({
      has: this.page.locator('.body', { hasText: new RegExp(`^${escapeRegExp(body)}$`) }),
    });
  }

  async waitForMessage(body, timeout = 20000) {
    await this.message(body).first().waitFor({ timeout });
  }

  async waitNote(text, timeout = 20000) {
    await this.page.locator('#messages li.note', { hasText: text }).first().waitFor({ timeout });
  }

  async waitNotice(text, timeout = 20000) {
    await this.page.locator('#notice', { hasText: text }).waitFor({ timeout });
  }

  // Every message line's body, top to bottom.
  bodies() {
    return this.page.locator('#messages li.message .body').allTextContents();
  }

  async screenshot(name, { fullPage = false } = {}) {
    await this.page.screenshot({ path: screenshotPath(name), fullPage });
  }

  // No password or anything else in the browser's storage or cookies.
  async assertNothingStored() {
    const stored = await this.page.evaluate(() => ({
      local: Object.keys(localStorage).length,
      session: Object.keys(sessionStorage).length,
      cookie: document.cookie,
    }));
    assert.deepEqual(stored, { local: 0, session: 0, cookie: '' });
    assert.deepEqual(await this.context.cookies(), []);
  }

  assertNoProblems() {
    assert.deepEqual(this.problems, [], 'the page logged errors');
  }

  async close() {
    await this.context.close();
  }
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
