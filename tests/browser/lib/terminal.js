// The terminal client `chat --transport=json`, its interactive mode driven through a pipe
// (docs/client.md, "Driving the interactive mode from a pipe"): lines in, lines out.
import { spawn } from 'node:child_process';
import { chatPath } from './env.js';

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

// The test decides every answer: no password or user from the environment.
function withoutChatVariables(env) {
  const copy = { ...env };
  delete copy.CHAT_PASSWORD;
  delete copy.CHAT_USER;
  return copy;
}

export class Terminal {
  #child;
  #out = '';
  #waiters = [];

  constructor(port) {
    this.#child = spawn(
      chatPath,
      ['--transport=json', '--host', '127.0.0.1', '--port', String(port)],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: withoutChatVariables(process.env),
      },
    );
    running.add(this.#child);
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        running.delete(this.#child);
        resolve(code);
        this.#check();
      });
    });
    const onData = (chunk) => {
      this.#out += chunk.toString();
      this.#check();
    };
    this.#child.stdout.on('data', onData);
    this.#child.stderr.on('data', onData);
  }

  get output() {
    return this.#out;
  }

  type(line) {
    this.#child.stdin.write(`${line}\n`);
  }

  // Waits until the output matches (a string or a RegExp), at most timeoutMs.
  waitFor(pattern, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const waiter = { pattern, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`chat never printed ${pattern}; it printed:\n${this.#out}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
      this.#check();
    });
  }

  async quit() {
    if (this.#child.exitCode === null) {
      this.type('quit');
      this.#child.stdin.end();
    }
    return this.exited;
  }

  #check() {
    for (const waiter of [...this.#waiters]) {
      const hit =
        typeof waiter.pattern === 'string'
          ? this.#out.includes(waiter.pattern)
          : waiter.pattern.test(this.#out);
      if (hit) {
        clearTimeout(waiter.timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.resolve();
      }
    }
  }
}
