// Waiting for a condition outside the page (what the server holds), checked again and again up
// to a deadline: bounded in time, no fixed sleep standing in for an event.
export async function until(what, condition, timeoutMs = 10000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await condition();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
