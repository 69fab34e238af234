// Waits between reconnection attempts, as the terminal client's (docs/client.md,
// "Reconnecting"): up to 0.1 s at first, twice as long each time, at most 5 s, each wait drawn
// at random from the upper half so that the clients of a failed server do not all come back at
// once.
export const FIRST_WAIT_MS = 100;
export const LONGEST_WAIT_MS = 5000;

export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(LONGEST_WAIT_MS, FIRST_WAIT_MS * 2 ** Math.min(attempt, 16));
  return ceiling / 2 + random() * (ceiling / 2);
}

// A wait that stop() cuts short (resolving false), so logging off ends a pending attempt.
export class Waiter {
  #timer = null;
  #wake = null;

  wait(ms) {
    this.stop();
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#wake = null;
        resolve(true);
      }, ms);
    });
  }

  stop() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#wake) this.#wake(false);
    this.#wake = null;
  }
}
