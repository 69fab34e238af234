// A browser user and a `chat --transport=json` user write to each other, both ways.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPage } from './lib/browser.js';
import { useChatdAndBrowser } from './lib/fixture.js';
import { createAccounts } from './lib/json_client.js';
import { Terminal } from './lib/terminal.js';

let terminal;
const fixture = useChatdAndBrowser(() => terminal?.quit());

test('the page and the terminal client chat with each other', async () => {
  await createAccounts(fixture.server.ports.json, ['tess'], 'terminal-pw');
  terminal = new Terminal(fixture.server.ports.json);
  terminal.type('2'); // login
  terminal.type('tess');
  terminal.type('terminal-pw');
  await terminal.waitFor('Logged in as tess.');

  const web = await openPage(fixture.browser, fixture.server.url);
  await web.createAccount('webby', 'web-pw');
  await web.send('tess', 'hello from the browser');
  await terminal.waitFor(/\] webby: hello from the browser\n/);

  terminal.type('send webby hello from the terminal');
  await terminal.waitFor('Sent to webby.');
  await web.waitForMessage('hello from the terminal');
  assert.equal(
    await web.message('hello from the terminal').locator('button.name').textContent(),
    'tess',
  );

  terminal.type('send webby second one');
  await terminal.waitFor(/Sent to webby\.\n[^]*Sent to webby\./);
  await web.waitForMessage('second one');
  assert.deepEqual(await web.bodies(), [
    'hello from the browser',
    'hello from the terminal',
    'second one',
  ]);
  assert.equal(await terminal.quit(), 0);
  assert.match(terminal.output, /Logged out\./);
  web.assertNoProblems();
  await web.close();
});
