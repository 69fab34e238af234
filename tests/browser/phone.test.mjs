// A phone-sized screen, used with the keyboard alone: every control is reached with Tab in a
// sensible order, Enter sends, and nothing is wider than the screen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage, PHONE } from './lib/browser.js';
import { useChatdAndBrowser } from './lib/fixture.js';

const fixture = useChatdAndBrowser();

async function focused(page) {
  return page.evaluate(() => document.activeElement && document.activeElement.id);
}

// Presses Tab (or Shift+Tab) until the element with that id has the focus, at most `limit`
// times.
async function tabTo(page, id, limit = 12, key = 'Tab') {
  for (let i = 0; i < limit; ++i) {
    if ((await focused(page)) === id) return i;
    await page.keyboard.press(key);
  }
  assert.equal(await focused(page), id, `Tab never reaches #${id}`);
  return limit;
}

async function fitsTheScreen(page) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `the page is ${scroll}px wide on a ${width}px screen`);
}

test('on a phone, with the keyboard alone', async () => {
  const user = await openPage(fixture.browser, fixture.server.url, PHONE);
  const { page } = user;
  assert.equal(await focused(page), 'login-user', 'the first field has the focus');
  await fitsTheScreen(page);
  await user.screenshot('phone-login');

  // Login form first, then the create form, in reading order.
  const order = [];
  for (let i = 0; i < 7; ++i) {
    order.push(
      (await focused(page)) || (await page.evaluate(() => document.activeElement.textContent)),
    );
    await page.keyboard.press('Tab');
  }
  assert.deepEqual(order, [
    'login-user',
    'login-password',
    'Log in',
    'create-user',
    'create-password',
    'create-repeat',
    'Create account',
  ]);

  await tabTo(page, 'create-user');
  await page.keyboard.type('pat');
  await page.keyboard.press('Tab');
  await page.keyboard.type('phone-pw');
  await page.keyboard.press('Tab');
  await page.keyboard.type('phone-pw');
  await page.keyboard.press('Enter');
  await user.waitLoggedIn('pat');

  // The recipient has the focus; Enter goes on to the message, Enter there sends.
  assert.equal(await focused(page), 'send-to');
  await page.keyboard.type('pat');
  await page.keyboard.press('Enter');
  assert.equal(await focused(page), 'send-body');
  await page.keyboard.type('a note to myself');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('on two lines');
  await page.keyboard.press('Enter');
  await user.waitForMessage('a note to myself\non two lines');
  assert.equal((await user.bodies()).length, 1, 'pushed and answered, shown once');
  await fitsTheScreen(page);
  await user.screenshot('phone-conversation', { fullPage: true });

  // The account list and the delete button are further down, and reachable.
  await tabTo(page, 'list-pattern', 20);
  await page.keyboard.press('Enter');
  await page.locator('#accounts li', { hasText: 'pat (you)' }).waitFor();
  await tabTo(page, 'delete-open', 20);
  await page.keyboard.press('Enter');
  await page.locator('#delete-dialog[open]').waitFor();
  await fitsTheScreen(page);
  await page.keyboard.press('Escape');
  await user.waitNotice('Not deleted.');
  assert.equal(await focused(page), 'delete-open', 'the focus comes back');

  // Log off is at the top, before everything else.
  await tabTo(page, 'logoff', 30, 'Shift+Tab');
  await page.keyboard.press('Enter');
  await user.waitNotice('Logged out.');
  assert.equal(await focused(page), 'login-user');
  user.assertNoProblems();
  await user.close();
});
