// A JSON Lines client over TCP (docs/protocol.md), for what a test does beside the page:
// creating accounts in bulk, sending as another user, checking what the server still holds.
import net from 'node:net';

export class JsonClient {
  #socket;
  #buffer = '';
  #waiting = [];
  #nextId = 1;
  events = [];

  static connect(port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () =>
        resolve(new JsonClient(socket)),
      );
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => this.#receive(chunk));
    socket.on('close', () => {
      for (const waiter of this.#waiting.splice(0)) waiter.reject(new Error('connection closed'));
    });
    socket.on('error', () => {});
  }

  // Resolves with the reply; rejects with an Error carrying .code when ok is false.
  request(op, fields = {}) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.push({ id, resolve, reject });
      this.#socket.write(`${JSON.stringify({ op, id, ...fields })}\n`);
    });
  }

  close() {
    this.#socket.destroy();
  }

  #receive(chunk) {
    this.#buffer += chunk;
    let end;
    while ((end = this.#buffer.indexOf('\n')) >= 0) {
      const frame = JSON.parse(this.#buffer.slice(0, end));
      this.#buffer = this.#buffer.slice(end + 1);
      if ('ok' in frame) {
        const waiter = this.#waiting.shift();
        if (!waiter) continue;
        if (frame.ok) waiter.resolve(frame);
        else
          waiter.reject(Object.assign(new Error(frame.error.message), { code: frame.error.code }));
      } else {
        this.events.push(frame);
      }
    }
  }
}

// Creates the accounts, all with the same password.
export async function createAccounts(port, names, password) {
  const client = await JsonClient.connect(port);
  try {
    await Promise.all(
      names.map((username) => client.request('create_account', { username, password })),
    );
  } finally {
    client.close();
  }
}

// What the server still queues for `username` (logs in, fetches, acknowledges nothing).
export async function queued(port, username, password) {
  const client = await JsonClient.connect(port);
  try {
    const login = await client.request('login', { username, password });
    const page = await client.request('fetch', { max: 1000 });
    return { unread: login.unread, messages: page.messages };
  } finally {
    client.close();
  }
}
