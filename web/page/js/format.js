// How text from the server is shown: as the terminal client shows it (docs/client.md), so that
// nothing in a name or a message can pretend to be something else. Control characters become
// ^X, C1 controls U+FFFD, and bidirectional and invisible characters their code point
// (<U+202E>), so a right-to-left override or a zero-width space is seen for what it is.

function codePoint(cp) {
  return `<U+${cp.toString(16).toUpperCase().padStart(4, '0')}>`;
}

function isNamed(cp) {
  return (
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c ||
    (cp >= 0x200b && cp <= 0x200d) ||
    (cp >= 0x2060 && cp <= 0x206f) ||
    cp === 0xfeff
  );
}

// oneLine: a name, where a line break is shown as ^J (or <U+2028>) rather than breaking it.
export function visible(text, { oneLine = false } = {}) {
  let out = '';
  for (const ch of String(text)) {
    const cp = ch.codePointAt(0);
    if (cp === 0x0a && !oneLine) out += '\n';
    else if (cp === 0x09) out += ' ';
    else if (cp < 0x20) out += `^${String.fromCharCode(cp + 0x40)}`;
    else if (cp === 0x7f) out += '^?';
    else if (cp >= 0x80 && cp <= 0x9f) out += '\ufffd';
    else if ((cp === 0x2028 || cp === 0x2029) && !oneLine) out += '\n';
    else if (cp === 0x2028 || cp === 0x2029 || isNamed(cp)) out += codePoint(cp);
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd';
    else out += ch;
  }
  return out;
}

export function visibleName(name) {
  return visible(name, { oneLine: true });
}

function two(n) {
  return String(n).padStart(2, '0');
}

// "12:03" today, "2026-11-24 18:40" on another day (local time).
export function shortTime(ms, now = new Date()) {
  const when = new Date(Number(ms));
  const time = `${two(when.getHours())}:${two(when.getMinutes())}`;
  const sameDay =
    when.getFullYear() === now.getFullYear() &&
    when.getMonth() === now.getMonth() &&
    when.getDate() === now.getDate();
  if (sameDay) return time;
  return `${when.getFullYear()}-${two(when.getMonth() + 1)}-${two(when.getDate())} ${time}`;
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// The username rule of docs/protocol.md, checked before asking the server.
export function isValidUsername(name) {
  return /^[A-Za-z0-9_.-]{1,32}$/.test(name);
}
