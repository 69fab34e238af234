// The connection line at the top, and the notice under it (what just happened, in words).
import { byId, say } from '../dom.js';

export class StatusView {
  #status = byId('status');
  #notice = byId('notice');
  #host;

  constructor(host) {
    this.#host = host;
  }

  show({ state, server, delayMs }) {
    document.body.dataset.connection = state;
    switch (state) {
      case 'connecting':
        this.#status.textContent = `Connecting to ${this.#host}…`;
        break;
      case 'connected':
        this.#status.textContent = `Connected to ${server} at ${this.#host}.`;
        break;
      case 'reconnecting':
        this.#status.textContent =
          `Connection to ${this.#host} lost; reconnecting (next try in ` +
          `${(delayMs / 1000).toFixed(1)} s)…`;
        break;
      case 'unreachable':
        this.#status.textContent = `Cannot reach the server at ${this.#host}.`;
        break;
      default:
        this.#status.textContent = 'Not connected; the page connects when you log in.';
    }
  }

  notice(text, { error = false } = {}) {
    say(this.#notice, text, { error });
  }
}
