// The conversation: every message in and out, notes of what happened (logins, lost and
// restored connections), the unread count with "Deliver undelivered messages", and the send
// box (recipient + message; Enter sends, Shift+Enter starts a new line).
import { byId, el, say } from '../dom.js';
import { explain } from '../errors.js';
import { plural, shortTime, visible, visibleName } from '../format.js';

// Lines kept on the page; the oldest go first.
const MAX_LINES = 2000;

export class ConversationView {
  #root = byId('chat-view');
  #list = byId('messages');
  #unread = byId('unread');
  #unreadText = byId('unread-text');
  #deliver = byId('deliver');
  #form = byId('send-form');
  #to = byId('send-to');
  #body = byId('send-body');
  #result = byId('send-result');
  #user = '';
  #shown = new Set(); // ids of the message lines on the page
  #sending = false;

  // onSend(to, body) resolves with the stored message; onDeliver() with how many were new.
  constructor({ onSend, onDeliver }) {
    this.#form.noValidate = true;
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit(onSend);
    });
    this.#body.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#form.requestSubmit();
      }
    });
    // Enter in the recipient goes on to the message.
    this.#to.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.isComposing) {
        event.preventDefault();
        this.#body.focus();
      }
    });
    this.#deliver.addEventListener('click', () => this.#deliverNow(onDeliver));
  }

  show(user, unread) {
    this.#user = user;
    this.#list.replaceChildren();
    this.#shown.clear();
    say(this.#result, '');
    this.#root.hidden = false;
    this.note(`Logged in as ${visibleName(user)}.`);
    if (unread === 0) this.note('No unread messages.');
    this.setUnread(unread);
    if (unread > 0) this.#deliver.focus();
    else this.#to.focus();
  }

  hide() {
    this.#root.hidden = true;
    this.#list.replaceChildren();
    this.#shown.clear();
    this.#to.value = '';
    this.#body.value = '';
  }

  setUnread(unread) {
    if (unread > 0) {
      const count = plural(unread, 'unread message', 'unread messages');
      this.#unreadText.textContent = `You have ${count}.`;
      this.#unread.hidden = false;
    } else {
      this.#unread.hidden = true;
      this.#unreadText.textContent = '';
    }
  }

  // A recipient chosen elsewhere (the account list, a sender's name): then write the message.
  writeTo(name) {
    this.#to.value = name;
    this.#body.focus();
  }

  note(text) {
    this.#append(el('li', { class: 'note' }, text));
  }

  addMessages(messages) {
    for (const message of messages) this.#addMessage(message);
  }

  #addMessage(message) {
    const id = String(message.id);
    if (this.#shown.has(id)) return;
    this.#shown.add(id);
    const mine = message.from.toLowerCase() === this.#user.toLowerCase();
    const toMe = message.to.toLowerCase() === this.#user.toLowerCase();
    const when = new Date(Number(message.sent_at));
    const head = el(
      'p',
      { class: 'head' },
      el('time', { datetime: when.toISOString() }, shortTime(message.sent_at)),
      ' ',
    );
    if (mine && !toMe) {
      head.append('to ', this.#nameButton(message.to));
    } else {
      head.append(this.#nameButton(message.from));
    }
    const body = el('p', { class: 'body' }, visible(message.body));
    this.#append(
      el('li', { class: mine && !toMe ? 'message sent' : 'message', 'data-id': id }, head, body),
    );
  }

  // A name that, chosen, makes it the recipient.
  #nameButton(name) {
    const button = el(
      'button',
      { type: 'button', class: 'name link', title: `Write to ${visibleName(name)}` },
      visibleName(name),
    );
    button.addEventListener('click', () => this.writeTo(name));
    return button;
  }

  #append(line) {
    const atEnd = this.#list.scrollHeight - this.#list.scrollTop - this.#list.clientHeight < 40;
    this.#list.append(line);
    while (this.#list.childElementCount > MAX_LINES) {
      const first = this.#list.firstElementChild;
      if (first.dataset.id) this.#shown.delete(first.dataset.id);
      first.remove();
    }
    if (atEnd) this.#list.scrollTop = this.#list.scrollHeight;
  }

  async #submit(onSend) {
    if (this.#sending) return;
    const to = this.#to.value.trim();
    const body = this.#body.value;
    if (to === '') {
      say(this.#result, 'Nothing sent: no recipient given.', { error: true });
      this.#to.focus();
      return;
    }
    if (body.trim() === '') {
      say(this.#result, 'Nothing sent: the message is empty.', { error: true });
      this.#body.focus();
      return;
    }
    this.#sending = true;
    say(this.#result, 'Sending…');
    try {
      const message = await onSend(to, body);
      if (this.#body.value === body) this.#body.value = '';
      this.#addMessage(message);
      say(this.#result, `Sent to ${visibleName(message.to)}.`);
    } catch (error) {
      say(this.#result, `Not sent: ${explain(error)}.`, { error: true });
    } finally {
      this.#sending = false;
    }
  }

  async #deliverNow(onDeliver) {
    this.#deliver.disabled = true;
    try {
      const shown = await onDeliver();
      this.setUnread(0);
      if (shown === 0) this.note('No new messages.');
      this.#to.focus();
    } catch (error) {
      this.note(`Could not fetch messages: ${explain(error)}.`);
    } finally {
      this.#deliver.disabled = false;
    }
  }
}
