// The first view: "Log in" and "Create account", the terminal client's menu as two forms.
import { byId, say } from '../dom.js';
import { explain } from '../errors.js';
import { isValidUsername } from '../format.js';
import { describeCode } from '../errors.js';

export class LoginView {
  #root = byId('login-view');
  #loginForm = byId('login-form');
  #loginUser = byId('login-user');
  #loginPassword = byId('login-password');
  #loginResult = byId('login-result');
  #createForm = byId('create-form');
  #createUser = byId('create-user');
  #createPassword = byId('create-password');
  #createRepeat = byId('create-repeat');
  #createResult = byId('create-result');
  #busy = false;

  // onLogin(username, password) and onCreate(username, password) return promises; a rejection
  // is shown under the form in words.
  constructor({ onLogin, onCreate }) {
    this.#loginForm.noValidate = true;
    this.#createForm.noValidate = true;
    this.#loginForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submitLogin(onLogin);
    });
    this.#createForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submitCreate(onCreate);
    });
  }

  show() {
    this.#root.hidden = false;
    this.#loginPassword.value = '';
    this.#createPassword.value = '';
    this.#createRepeat.value = '';
    say(this.#loginResult, '');
    say(this.#createResult, '');
    this.#loginUser.focus();
  }

  hide() {
    this.#root.hidden = true;
  }

  async #submitLogin(onLogin) {
    if (this.#busy) return;
    const username = this.#loginUser.value.trim();
    const password = this.#loginPassword.value;
    if (username === '')
      return this.#refuse(this.#loginResult, this.#loginUser, 'Please type a username.');
    if (password === '')
      return this.#refuse(this.#loginResult, this.#loginPassword, 'Please type the password.');
    say(this.#loginResult, 'Logging in…');
    await this.#run(this.#loginResult, 'Login failed', this.#loginPassword, () =>
      onLogin(username, password),
    );
  }

  async #submitCreate(onCreate) {
    if (this.#busy) return;
    const username = this.#createUser.value.trim();
    const password = this.#createPassword.value;
    if (username === '')
      return this.#refuse(this.#createResult, this.#createUser, 'Please type a username.');
    if (!isValidUsername(username)) {
      return this.#refuse(
        this.#createResult,
        this.#createUser,
        `That name cannot be used: ${describeCode('invalid_username')}.`,
      );
    }
    if (password === '')
      return this.#refuse(this.#createResult, this.#createPassword, 'Please choose a password.');
    if (password !== this.#createRepeat.value) {
      this.#createRepeat.value = '';
      return this.#refuse(
        this.#createResult,
        this.#createRepeat,
        'The two passwords differ; nothing was done.',
      );
    }
    say(this.#createResult, 'Creating the account…');
    await this.#run(this.#createResult, 'Could not create the account', this.#createUser, () =>
      onCreate(username, password),
    );
  }

  #refuse(result, field, text) {
    say(result, text, { error: true });
    field.focus();
  }

  async #run(result, what, focusOnError, action) {
    this.#busy = true;
    try {
      await action();
      say(result, '');
    } catch (error) {
      say(result, `${what}: ${explain(error)}.`, { error: true });
      focusOnError.focus();
    } finally {
      this.#busy = false;
    }
  }
}
