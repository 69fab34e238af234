// The chat session of the page: one connection at a time, the logged-in user, and everything
// that keeps a session alive across a dropped connection. After a loss it reconnects with
// backoff and logs in again with the name and password of the last login, which it keeps in
// memory only (never in storage or cookies) and forgets at log off, account deletion or a
// refused login. Messages are handed to the page once each (de-duplicated by id), and
// acknowledged only after the page has shown them; after reconnecting, everything that is
// still queued on the server is fetched, so nothing sent meanwhile is missed.
import { backoffDelay, Waiter } from './backoff.js';
import { ChatError, Connection, ConnectionLost } from './protocol.js';

// Pages of one delivery at most: bounds the loop if the queue keeps growing.
const MAX_FETCH_PAGES = 1000;
const FETCH_PAGE = 1000;
// Replies to a re-login that mean "try again later", not "refused".
const RETRYABLE = new Set(['server_busy', 'rate_limited', 'internal']);

// A request made while there is no live session to make it on.
export class NotConnected extends Error {
  constructor(reconnecting) {
    super(reconnecting ? 'not connected: reconnecting to the server' : 'not connected');
    this.name = 'NotConnected';
    this.reconnecting = reconnecting;
  }
}

export function webSocketUrl(location) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

export class ChatSession {
  #url;
  #handlers;
  #conn = null;
  #opening = null;
  #credentials = null; // {username, password} of the last login, in memory only
  #user = null;
  #live = false; // logged in on the current connection
  #reconnecting = false;
  #expectLogout = false;
  #seen = new Set();
  #ackQueue = [];
  #acking = false;
  #waiter = new Waiter();

  // handlers: status({state, server, delayMs}), messages(list, how), loggedOut(reason),
  // lost(), reconnected({username, unread}), refused(error).
  constructor(url, handlers = {}) {
    this.#url = url;
    this.#handlers = handlers;
  }

  get user() {
    return this.#user;
  }

  get reconnecting() {
    return this.#reconnecting;
  }

  // Opens a connection (and says hello) unless one is open.
  async connect() {
    if (this.#conn && this.#conn.isOpen) return this.#conn;
    if (!this.#opening) {
      this.#opening = this.#open().finally(() => {
        this.#opening = null;
      });
    }
    return this.#opening;
  }

  async createAccount(username, password) {
    const conn = await this.connect();
    await conn.request('create_account', { username, password });
  }

  async login(username, password) {
    const conn = await this.connect();
    const reply = await conn.request('login', { username, password });
    this.#startSession(reply.username, password);
    return { username: reply.username, unread: Number(reply.unread) };
  }

  async logout() {
    const conn = this.#conn;
    const wasLive = this.#live;
    this.#endSession();
    if (conn && wasLive) {
      try {
        await conn.request('logout');
      } catch (error) {
        if (!(error instanceof ChatError && error.code === 'not_logged_in')) {
          if (!(error instanceof ConnectionLost)) throw error;
        }
      }
    }
  }

  async deleteAccount(password) {
    const conn = this.#sessionConnection();
    this.#expectLogout = true;
    try {
      await conn.request('delete_account', { password });
    } catch (error) {
      this.#expectLogout = false;
      throw error;
    }
    this.#endSession();
  }

  async send(to, body) {
    const reply = await this.#sessionConnection().request('send', { to, body });
    return reply.message;
  }

  async listAccounts(pattern, after, limit) {
    const fields = { pattern, limit };
    if (after) fields.after = after;
    const reply = await this.#sessionConnection().request('list_accounts', fields);
    return { accounts: reply.accounts || [], next: reply.next ?? null };
  }

  // Delivers undelivered messages: fetches page after page, hands the new ones to the page
  // (oldest first) and acknowledges each page once it is shown. Returns how many were new.
  async deliverAll() {
    let shown = 0;
    for (let page = 0; page < MAX_FETCH_PAGES; ++page) {
      const conn = this.#sessionConnection();
      const reply = await conn.request('fetch', { max: FETCH_PAGE });
      const messages = reply.messages || [];
      shown += this.#show(messages, 'fetched');
      if (messages.length > 0) await conn.ack(messages.map((m) => m.id));
      if (Number(reply.remaining) === 0 || messages.length === 0) break;
    }
    return shown;
  }

  async #open() {
    const conn = new Connection(this.#url, {
      onEvent: (event) => this.#onEvent(conn, event),
      onClose: () => this.#onClose(conn),
    });
    this.#status({ state: 'connecting' });
    await conn.open();
    const hello = await conn.request('hello', { version: 1 });
    this.#conn = conn;
    this.#status({ state: 'connected', server: String(hello.server || 'chatd') });
    return conn;
  }

  #sessionConnection() {
    if (!this.#live || !this.#conn || !this.#conn.isOpen) {
      throw new NotConnected(this.#reconnecting);
    }
    return this.#conn;
  }

  #startSession(username, password) {
    if (this.#user === null || this.#user.toLowerCase() !== username.toLowerCase()) {
      this.#seen.clear();
    }
    this.#user = username;
    this.#credentials = { username, password };
    this.#live = true;
  }

  #endSession() {
    this.#credentials = null;
    this.#user = null;
    this.#live = false;
    this.#seen.clear();
    this.#ackQueue = [];
    this.#waiter.stop();
  }

  #onEvent(conn, event) {
    if (conn !== this.#conn) return;
    if (event.event === 'message' && event.message && this.#live) {
      this.#show([event.message], 'pushed');
      this.#ackQueue.push(event.message.id);
      this.#flushAcks();
    } else if (event.event === 'logged_out') {
      this.#live = false;
      if (this.#expectLogout) {
        this.#expectLogout = false;
        return;
      }
      const reason = String(event.reason || '');
      this.#endSession();
      this.#call('loggedOut', reason);
    }
  }

  #onClose(conn) {
    if (conn !== this.#conn) return;
    this.#conn = null;
    const wasLive = this.#live;
    this.#live = false;
    this.#ackQueue = [];
    if (this.#credentials) {
      if (wasLive) this.#call('lost');
      this.#reconnect();
    } else {
      this.#status({ state: 'idle' });
    }
  }

  // Hands the messages not shown before to the page, oldest first; returns how many.
  #show(messages, how) {
    const fresh = [];
    for (const message of messages) {
      const id = String(message.id);
      if (this.#seen.has(id)) continue;
      this.#seen.add(id);
      fresh.push(message);
    }
    fresh.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    if (fresh.length > 0) this.#call('messages', fresh, how);
    return fresh.length;
  }

  // Acknowledges pushed messages (already shown), batching those that come while one ack is on
  // the wire. A lost ack only means the message is fetched again, and not shown twice.
  async #flushAcks() {
    if (this.#acking || this.#ackQueue.length === 0 || !this.#live || !this.#conn) return;
    this.#acking = true;
    const ids = this.#ackQueue.splice(0);
    try {
      await this.#conn.ack(ids);
    } catch {
      // fetched again after the reconnection
    } finally {
      this.#acking = false;
    }
    this.#flushAcks();
  }

  async #reconnect() {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    try {
      for (let attempt = 0; this.#credentials && !this.#live; ++attempt) {
        const delayMs = backoffDelay(attempt);
        this.#status({ state: 'reconnecting', delayMs });
        if (!(await this.#waiter.wait(delayMs))) break;
        if (!this.#credentials) break;
        let reply;
        let conn;
        try {
          conn = await this.connect();
          const { username, password } = this.#credentials;
          reply = await conn.request('login', { username, password });
        } catch (error) {
          if (error instanceof ChatError && error.code === 'already_logged_in') {
            reply = null; // logged in on this connection already: go on with it
          } else if (error instanceof ChatError && !RETRYABLE.has(error.code)) {
            this.#endSession();
            this.#call('refused', error);
            break;
          } else {
            continue;
          }
        }
        if (!this.#credentials || conn !== this.#conn) continue;
        this.#live = true;
        if (reply) {
          this.#call('reconnected', { username: reply.username, unread: Number(reply.unread) });
        }
        try {
          await this.deliverAll();
        } catch {
          // lost again: the loop goes on (#live is false) or the session ended
        }
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  #status(status) {
    this.#call('status', status);
  }

  #call(name, ...args) {
    const handler = this.#handlers[name];
    if (handler) handler(...args);
  }
}
