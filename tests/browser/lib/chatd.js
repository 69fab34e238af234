// A real chatd for a test: SQLite in a temporary directory, the JSON Lines and WebSocket
// transports on ephemeral loopback ports (read back from its "listening" log lines), stopped
// at the end whatever happens. restart() starts it again on the same ports and the same
// database, as after a crash.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chatdPath } from './env.js';

const START_TIMEOUT_MS = 20000;
const running = new Set();

// Whatever a test leaves running is killed when the process goes, also on failure.
process.on('exit', () => {
  for (const server of running) server.kill('SIGKILL');
});

export class Chatd {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-browser-'));
    this.db = path.join(this.dir, 'chat.db');
    this.ports = { json: 0, ws: 0 };
    this.child = null;
    this.log = '';
  }

  static async start() {
    const server = new Chatd();
    await server.#launch();
    return server;
  }

  get url() {
    return `http://127.0.0.1:${this.ports.ws}/`;
  }

  async restart() {
    if (this.child) throw new Error('chatd is still running');
    await this.#launch();
  }

  // SIGKILL by default: a crash, no goodbye to the clients.
  async kill(signal = 'SIGKILL') {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async stop() {
    await this.kill('SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  #launch() {
    const args = [
      '--transport=json,ws',
      '--store=sqlite',
      `--db=${this.db}`,
      '--listen=127.0.0.1',
      `--json-port=${this.ports.json}`,
      `--ws-port=${this.ports.ws}`,
      '--rate-limit=0',
      '--threads=2',
      '--hash-threads=2',
    ];
    const child = spawn(chatdPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(this);
    child.once('exit', () => {
      running.delete(this);
      if (this.child === child) this.child = null;
    });
    return new Promise((resolve, reject) => {
      let pending = '';
      const found = {};
      const timer = setTimeout(() => {
        reject(new Error(`chatd did not get ready in time; its log:\n${this.log}`));
      }, START_TIMEOUT_MS);
      const onData = (chunk) => {
        const text = chunk.toString();
        this.log += text;
        pending += text;
        let end;
        while ((end = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 1);
          const listening = / listening .*transport=(\w+) .*port=(\d+)/.exec(line);
          if (listening) found[listening[1]] = Number(listening[2]);
          if (/ ready /.test(line) || / ready$/.test(line)) {
            clearTimeout(timer);
            if (!found.json || !found.ws) {
              reject(new Error(`chatd reported no json and ws ports; its log:\n${this.log}`));
              return;
            }
            this.ports = { json: found.json, ws: found.ws };
            resolve();
          }
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`chatd exited (${code ?? signal}) before it was ready; log:\n${this.log}`),
        );
      });
    });
  }
}
