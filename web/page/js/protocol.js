// One WebSocket connection speaking chatd's protocol (docs/protocol.md): each text message is
// one JSON frame. Requests get numeric ids and promises; replies are matched by id (or, for a
// reply with "id":null, to the oldest request still waiting, as replies keep request order).
// Pushes ({"event":...}) go to onEvent.

// A request the server answered with ok:false.
export class ChatError extends Error {
  constructor(code, serverMessage) {
    super(serverMessage || code);
    this.name = 'ChatError';
    this.code = code;
    this.serverMessage = serverMessage || '';
  }
}

// The connection closed (or never opened) before the reply came.
export class ConnectionLost extends Error {
  constructor(reason) {
    super(reason || 'the connection to the server was lost');
    this.name = 'ConnectionLost';
  }
}

// Message ids are unsigned 64-bit integers and may exceed 2^53, so every "id" is kept as its
// decimal text: exact where the browser gives the parser's source text, else the number's.
function keepIdsAsText(key, value, context) {
  if (key === 'id' && typeof value === 'number') {
    return context && typeof context.source === 'string' ? context.source : String(value);
  }
  return value;
}

export function parseFrame(text) {
  return JSON.parse(text, keepIdsAsText);
}

const DECIMAL = /^[0-9]{1,20}$/;

export class Connection {
  #ws = null;
  #nextId = 1;
  #pending = new Map(); // String(id) -> {resolve, reject}, in request order
  #closed = false;
  #onEvent;
  #onClose;

  constructor(url, { onEvent = () => {}, onClose = () => {} } = {}) {
    this.url = url;
    this.#onEvent = onEvent;
    this.#onClose = onClose;
  }

  get isOpen() {
    return !this.#closed && this.#ws !== null && this.#ws.readyState === WebSocket.OPEN;
  }

  // Resolves once the WebSocket is open; rejects with ConnectionLost if it fails first.
  open() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (error) {
        this.#closed = true;
        reject(new ConnectionLost(`cannot connect: ${error.message}`));
        return;
      }
      this.#ws = ws;
      let opened = false;
      ws.addEventListener('open', () => {
        opened = true;
        resolve();
      });
      ws.addEventListener('message', (event) => this.#receive(event.data));
      ws.addEventListener('close', () => {
        if (!opened) reject(new ConnectionLost('cannot connect to the server'));
        this.#shutDown(opened);
      });
      // An error is always followed by close, which does the work.
      ws.addEventListener('error', () => {});
    });
  }

  // Sends {op, id, ...fields}; resolves with the reply (ok:true), rejects with ChatError or
  // ConnectionLost.
  request(op, fields = {}) {
    return this.#send((id) => JSON.stringify({ op, id, ...fields }));
  }

  // ack with message ids kept as decimal text (see keepIdsAsText), sent as JSON integers.
  ack(ids) {
    for (const id of ids) {
      if (!DECIMAL.test(id)) return Promise.reject(new Error(`not a message id: ${id}`));
    }
    return this.#send((id) => `{"op":"ack","id":${id},"ids":[${ids.join(',')}]}`);
  }

  close() {
    if (this.#ws) this.#ws.close(1000);
    this.#shutDown(true);
  }

  #send(frameFor) {
    if (!this.isOpen) return Promise.reject(new ConnectionLost('not connected to the server'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(String(id), { resolve, reject });
      this.#ws.send(frameFor(id));
    });
  }

  #receive(data) {
    if (typeof data !== 'string') return;
    let frame;
    try {
      frame = parseFrame(data);
    } catch {
      return; // not JSON: nothing to match it to
    }
    if (frame === null || typeof frame !== 'object') return;
    if ('ok' in frame) {
      this.#answer(frame);
    } else if (typeof frame.event === 'string') {
      this.#onEvent(frame);
    }
  }

  #answer(reply) {
    let key = reply.id === null || reply.id === undefined ? null : String(reply.id);
    if (key === null || !this.#pending.has(key)) {
      // "id":null answers the oldest request still waiting.
      const oldest = this.#pending.keys().next();
      if (oldest.done) return;
      key = oldest.value;
    }
    const waiter = this.#pending.get(key);
    this.#pending.delete(key);
    if (reply.ok === true) {
      waiter.resolve(reply);
    } else {
      const error = reply.error || {};
      waiter.reject(new ChatError(String(error.code || 'internal'), String(error.message || '')));
    }
  }

  #shutDown(notify) {
    if (this.#closed) return;
    this.#closed = true;
    const waiting = [...this.#pending.values()];
    this.#pending.clear();
    for (const waiter of waiting) waiter.reject(new ConnectionLost());
    if (notify) this.#onClose();
  }
}
