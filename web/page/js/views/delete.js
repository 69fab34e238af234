// "Delete account": a dialog that asks for the password and a confirmation, as the terminal
// client asks for the password and a "yes".
import { byId, say } from '../dom.js';
import { explain } from '../errors.js';
import { visibleName } from '../format.js';

export class DeleteDialog {
  #dialog = byId('delete-dialog');
  #form = byId('delete-form');
  #warning = byId('delete-warning');
  #password = byId('delete-password');
  #confirm = byId('delete-confirm');
  #confirmText = byId('delete-confirm-text');
  #result = byId('delete-result');
  #user = byId('delete-user');
  #cancel = byId('delete-cancel');
  #opener = byId('delete-open');
  #busy = false;

  // onDelete(password) resolves once the account is gone; onCancel() when nothing was done.
  constructor({ onDelete, onCancel }) {
    this.#form.noValidate = true;
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit(onDelete);
    });
    this.#cancel.addEventListener('click', () => this.#dialog.close('cancel'));
    this.#dialog.addEventListener('close', () => {
      this.#password.value = '';
      if (this.#dialog.returnValue !== 'deleted') {
        onCancel();
        this.#opener.focus();
      }
    });
  }

  open(user) {
    const name = visibleName(user);
    this.#warning.textContent =
      'Deleting your account discards the messages waiting for you and frees the name ' +
      `${name}.`;
    this.#confirmText.textContent = `Really delete the account ${name}`;
    this.#user.value = user;
    this.#password.value = '';
    this.#confirm.checked = false;
    say(this.#result, '');
    this.#dialog.returnValue = '';
    this.#dialog.showModal();
    this.#password.focus();
  }

  close() {
    if (this.#dialog.open) this.#dialog.close('deleted');
  }

  async #submit(onDelete) {
    if (this.#busy) return;
    if (this.#password.value === '') {
      say(this.#result, 'Type your password to delete the account.', { error: true });
      this.#password.focus();
      return;
    }
    if (!this.#confirm.checked) {
      say(this.#result, 'Tick the box to confirm; nothing was deleted.', { error: true });
      this.#confirm.focus();
      return;
    }
    this.#busy = true;
    try {
      await onDelete(this.#password.value);
      this.#dialog.close('deleted');
    } catch (error) {
      say(this.#result, `Not deleted: ${explain(error)}.`, { error: true });
      this.#password.focus();
    } finally {
      this.#busy = false;
    }
  }
}
