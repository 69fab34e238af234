// chatd is killed (SIGKILL) and started again on the same ports and database: the page says
// so, reconnects by itself, logs in again with the password it holds in memory only, and shows
// every message exactly once: those sent while it was away, and the one it had shown but whose
// acknowledgement the crash lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DESKTOP, openPage } from './lib/browser.js';
import { useChatdAndBrowser } from './lib/fixture.js';
import { createAccounts, JsonClient, queued } from './lib/json_client.js';

const fixture = useChatdAndBrowser();

async function sendAs(port, username, password, to, bodies) {
  const client = await JsonClient.connect(port);
  try {
    await client.request('login', { username, password });
    for (const body of bodies) await client.request('send', { to, body });
  } finally {
    client.close();
  }
}

// Routes the page's WebSocket through the test, which holds back the page's acks while
// `holding.acks` is true: a message then is on the screen but still queued on the server, as
// when a crash comes between the two.
function holdAcks(holding) {
  return (page) =>
    page.routeWebSocket(/\/ws$/, (ws) => {
      const toServer = ws.connectToServer();
      ws.onMessage((frame) => {
        if (holding.acks && typeof frame === 'string' && JSON.parse(frame).op === 'ack') return;
        toServer.send(frame);
      });
    });
}

test('after a crash and restart the page reconnects and loses nothing', async () => {
  await createAccounts(fixture.server.ports.json, ['heidi'], 'heidi-pw');
  const holding = { acks: true };
  const grace = await openPage(fixture.browser, fixture.server.url, DESKTOP, holdAcks(holding));
  await grace.createAccount('grace', 'grace-pw');

  await sendAs(fixture.server.ports.json, 'heidi', 'heidi-pw', 'grace', ['before the crash']);
  await grace.waitForMessage('before the crash');
  const held = await queued(fixture.server.ports.json, 'grace', 'grace-pw');
  assert.deepEqual(
    held.messages.map((m) => m.body),
    ['before the crash'],
    'shown, not acked',
  );
  await fixture.server.kill('SIGKILL');
  holding.acks = false;
  await grace.waitNote('Connection to 127.0.0.1:');
  await grace.page.locator('body[data-connection="reconnecting"]').waitFor();

  // Sending while away fails in words, and the text stays in the box.
  await grace.page.fill('#send-to', 'heidi');
  await grace.page.fill('#send-body', 'are you back?');
  await grace.page.press('#send-body', 'Enter');
  await grace.page
    .locator('#send-result', { hasText: 'Not sent: not connected; reconnecting to the server.' })
    .waitFor();
  assert.equal(await grace.page.inputValue('#send-body'), 'are you back?');
  await grace.screenshot('reconnecting');

  await fixture.server.restart();
  const away = ['while you were away 1', 'while you were away 2', 'while you were away 3'];
  await sendAs(fixture.server.ports.json, 'heidi', 'heidi-pw', 'grace', away);

  await grace.waitNote(/Reconnected; logged in again as grace \(\d+ unread\)\./);
  for (const body of away) await grace.waitForMessage(body);
  await grace.page.locator('body[data-connection="connected"]').waitFor();
  assert.deepEqual(await grace.bodies(), ['before the crash', ...away], 'each exactly once');

  // The session is whole again: sending works, and nothing is left unacknowledged.
  await grace.page.press('#send-body', 'Enter');
  await grace.waitForMessage('are you back?');
  const left = await queued(fixture.server.ports.json, 'grace', 'grace-pw');
  assert.equal(left.messages.length, 0);
  await grace.assertNothingStored();
  grace.assertNoProblems();
  await grace.close();
});

test('a second crash in a row is survived the same way', async () => {
  await createAccounts(fixture.server.ports.json, ['ivan'], 'ivan-pw');
  const judy = await openPage(fixture.browser, fixture.server.url);
  await judy.createAccount('judy', 'judy-pw');
  for (let round = 1; round <= 2; ++round) {
    await fixture.server.kill('SIGKILL');
    await fixture.server.restart();
    await sendAs(fixture.server.ports.json, 'ivan', 'ivan-pw', 'judy', [`round ${round}`]);
    await judy.waitForMessage(`round ${round}`);
  }
  assert.deepEqual(await judy.bodies(), ['round 1', 'round 2']);
  judy.assertNoProblems();
  await judy.close();
});
