// The set-up every browser test file shares: one chatd and one Chromium for the file, started
// before its first test and stopped after its last, also when a test fails. `also` are more
// things to stop first (a terminal client, say): functions returning a promise or nothing.
import { after, before } from 'node:test';
import { launch } from './browser.js';
import { Chatd } from './chatd.js';

export function useChatdAndBrowser(...also) {
  const fixture = { server: null, browser: null };
  before(async () => {
    fixture.server = await Chatd.start();
    fixture.browser = await launch();
  });
  after(async () => {
    for (const stop of also) await stop();
    await fixture.browser?.close();
    await fixture.server?.stop();
  });
  return fixture;
}
