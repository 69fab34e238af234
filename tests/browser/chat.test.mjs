// The page against a real chatd: two people chat live; one logs off, the other writes, the
// first logs in again and delivers the undelivered messages; listing accounts with a wildcard
// and pages; deleting an account. Screenshots of each view go to the build tree.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage } from './lib/browser.js';
import { useChatdAndBrowser } from './lib/fixture.js';
import { createAccounts, queued } from './lib/json_client.js';
import { until } from './lib/wait.js';

const fixture = useChatdAndBrowser();

test('two people create accounts and chat live, both ways', async () => {
  const alice = await openPage(fixture.browser, fixture.server.url);
  const bob = await openPage(fixture.browser, fixture.server.url);
  await alice.page.locator('body[data-connection="connected"]').waitFor();
  await alice.screenshot('login');

  await alice.createAccount('alice', 'wonderland');
  await bob.createAccount('bob', 'builder');
  await alice.send('bob', 'hi bob!');
  await bob.waitForMessage('hi bob!');
  await bob.send('alice', 'hi alice — all well? <b>not bold</b> ça va, grüße');
  await alice.waitForMessage('hi alice — all well? <b>not bold</b> ça va, grüße');
  assert.equal(await alice.page.locator('#messages b').count(), 0, 'text stays text');

  // The sender's name is a button that makes them the recipient.
  await bob.message('hi bob!').locator('button.name').click();
  assert.equal(await bob.page.inputValue('#send-to'), 'alice');
  assert.equal(await bob.page.evaluate(() => document.activeElement.id), 'send-body');

  // Several lines keep their line breaks.
  await alice.page.fill('#send-to', 'bob');
  await alice.page.fill('#send-body', 'first line\nsecond line');
  await alice.page.click('#send-form button[type=submit]');
  await until('the two-line message', async () =>
    (await bob.bodies()).includes('first line\nsecond line'),
  );

  // Shown messages were acknowledged: nothing waits on the server.
  await until('the pushes to be acknowledged', async () => {
    const left = await queued(fixture.server.ports.json, 'bob', 'builder');
    return left.messages.length === 0;
  });
  assert.deepEqual(await alice.bodies(), [
    'hi bob!',
    'hi alice — all well? <b>not bold</b> ça va, grüße',
    'first line\nsecond line',
  ]);
  await alice.screenshot('conversation');
  await alice.assertNothingStored();
  alice.assertNoProblems();
  bob.assertNoProblems();
  await alice.close();
  await bob.close();
});

test('messages sent while logged off are delivered after the next login', async () => {
  const carol = await openPage(fixture.browser, fixture.server.url);
  const dave = await openPage(fixture.browser, fixture.server.url);
  await carol.createAccount('carol', 'carol-pw');
  await dave.createAccount('dave', 'dave-pw');
  await dave.logoff();

  const sent = ['are you there?', 'call me', 'it is about lunch'];
  for (const body of sent) await carol.send('dave', body);

  await dave.login('Dave', 'dave-pw', 'dave'); // any case logs in
  await dave.page.locator('#unread-text', { hasText: 'You have 3 unread messages.' }).waitFor();
  assert.deepEqual(await dave.bodies(), [], 'nothing is shown before delivery');
  // The button has the focus: Enter delivers.
  assert.equal(await dave.page.evaluate(() => document.activeElement.id), 'deliver');
  await dave.screenshot('unread');
  await dave.page.keyboard.press('Enter');
  await dave.page.locator('#unread').waitFor({ state: 'hidden' });
  assert.deepEqual(await dave.bodies(), sent, 'each once, oldest first');
  const left = await queued(fixture.server.ports.json, 'dave', 'dave-pw');
  assert.equal(left.messages.length, 0, 'delivered messages are acknowledged');

  await dave.logoff();
  await dave.login('dave', 'dave-pw');
  await dave.waitNote('No unread messages.');
  carol.assertNoProblems();
  dave.assertNoProblems();
  await carol.close();
  await dave.close();
});

test('accounts are listed by wildcard, a page at a time', async () => {
  const names = Array.from({ length: 25 }, (_, i) => `user${String(i + 1).padStart(2, '0')}`);
  await createAccounts(fixture.server.ports.json, names, 'pw');
  const erin = await openPage(fixture.browser, fixture.server.url);
  await erin.createAccount('erin', 'erin-pw');
  const { page } = erin;

  await page.fill('#list-pattern', 'user*');
  await page.press('#list-pattern', 'Enter');
  await page.locator('#list-result', { hasText: '20 shown; there are more.' }).waitFor();
  assert.deepEqual(await page.locator('#accounts li').allTextContents(), names.slice(0, 20));
  await page.click('#accounts-more');
  await page.locator('#list-result', { hasText: '25 shown; that is all.' }).waitFor();
  assert.deepEqual(await page.locator('#accounts li').allTextContents(), names);
  assert.equal(await page.isHidden('#accounts-more'), true);

  await page.fill('#list-pattern', 'USER0?');
  await page.click('#list-form button[type=submit]');
  await page.locator('#list-result', { hasText: '9 shown; that is all.' }).waitFor();
  assert.deepEqual(await page.locator('#accounts li').allTextContents(), names.slice(0, 9));

  await page.fill('#list-pattern', 'er*');
  await page.click('#list-form button[type=submit]');
  await page.locator('#accounts li', { hasText: 'erin (you)' }).waitFor();

  await page.fill('#list-pattern', 'nobody*');
  await page.click('#list-form button[type=submit]');
  await page.locator('#list-result', { hasText: 'No account matches “nobody*”.' }).waitFor();

  await page.fill('#list-pattern', 'user1*');
  await page.click('#list-form button[type=submit]');
  await page.locator('#list-result', { hasText: '10 shown; that is all.' }).waitFor();
  await erin.screenshot('accounts');
  await page.locator('#accounts button', { hasText: 'user12' }).click();
  assert.equal(await page.inputValue('#send-to'), 'user12');
  erin.assertNoProblems();
  await erin.close();
});

test('deleting an account asks for the password and a confirmation', async () => {
  const frank = await openPage(fixture.browser, fixture.server.url);
  const other = await openPage(fixture.browser, fixture.server.url);
  await frank.createAccount('frank', 'frank-pw');
  await other.login('frank', 'frank-pw');
  const { page } = frank;

  await page.click('#delete-open');
  await page.locator('#delete-dialog[open]').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'delete-password');
  await page.fill('#delete-password', 'wrong');
  await page.check('#delete-confirm');
  await frank.screenshot('delete');
  await page.click('#delete-submit');
  await page
    .locator('#delete-result', { hasText: 'Not deleted: wrong username or password.' })
    .waitFor();

  await page.fill('#delete-password', 'frank-pw');
  await page.uncheck('#delete-confirm');
  await page.click('#delete-submit');
  await page.locator('#delete-result', { hasText: 'Tick the box to confirm' }).waitFor();

  await page.keyboard.press('Escape');
  await frank.waitNotice('Not deleted.');

  await page.click('#delete-open');
  await page.fill('#delete-password', 'frank-pw');
  await page.check('#delete-confirm');
  await page.press('#delete-password', 'Enter');
  await frank.waitNotice('Account frank deleted; you are logged out.');
  await page.locator('#login-view').waitFor();
  await other.waitNotice('Your account was deleted in another session; you are logged out.');

  await page.fill('#login-user', 'frank');
  await page.fill('#login-password', 'frank-pw');
  await page.press('#login-password', 'Enter');
  await page
    .locator('#login-result', { hasText: 'Login failed: wrong username or password.' })
    .waitFor();
  frank.assertNoProblems();
  other.assertNoProblems();
  await frank.close();
  await other.close();
});
