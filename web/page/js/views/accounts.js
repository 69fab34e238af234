// "List accounts": a wildcard pattern, pages of 20 with "Show more", your own name marked.
// Choosing a name makes it the recipient of the send box.
import { byId, el, say } from '../dom.js';
import { explain } from '../errors.js';
import { visibleName } from '../format.js';

const PAGE = 20;

export class AccountsView {
  #form = byId('list-form');
  #pattern = byId('list-pattern');
  #list = byId('accounts');
  #more = byId('accounts-more');
  #result = byId('list-result');
  #user = '';
  #shownPattern = '';
  #next = null;

  // onList(pattern, after, limit) resolves with {accounts, next}; onPick(name) is a choice.
  constructor({ onList, onPick }) {
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#shownPattern = this.#pattern.value.trim();
      this.#next = null;
      this.#list.replaceChildren();
      this.#page(onList, onPick, true);
    });
    this.#more.addEventListener('click', () => this.#page(onList, onPick, false));
  }

  reset(user) {
    this.#user = user;
    this.#next = null;
    this.#list.replaceChildren();
    this.#more.hidden = true;
    this.#pattern.value = '*';
    say(this.#result, '');
  }

  async #page(onList, onPick, first) {
    const pattern = this.#shownPattern;
    let page;
    try {
      page = await onList(pattern === '' ? '*' : pattern, first ? null : this.#next, PAGE);
    } catch (error) {
      this.#more.hidden = true;
      this.#next = null;
      say(this.#result, `Could not list accounts: ${explain(error)}.`, { error: true });
      return;
    }
    const firstNew = this.#list.childElementCount;
    for (const name of page.accounts) {
      const button = el('button', { type: 'button', class: 'name link' }, visibleName(name));
      button.addEventListener('click', () => onPick(name));
      const item = el('li', {}, button);
      if (name.toLowerCase() === this.#user.toLowerCase())
        item.append(' ', el('span', { class: 'you' }, '(you)'));
      this.#list.append(item);
    }
    this.#next = page.next;
    this.#more.hidden = page.next === null;
    if (first && page.accounts.length === 0) {
      say(
        this.#result,
        pattern === '' || pattern === '*'
          ? 'No accounts.'
          : `No account matches “${visibleName(pattern)}”.`,
      );
    } else {
      const total = this.#list.childElementCount;
      say(
        this.#result,
        page.next === null ? `${total} shown; that is all.` : `${total} shown; there are more.`,
      );
    }
    // Keyboard users go on from the first new name (after "Show more" had the focus).
    if (!first) {
      const next = this.#list.children[firstNew];
      if (next) next.querySelector('button').focus();
      else this.#pattern.focus();
    }
  }
}
