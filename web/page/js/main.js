// The page: wires the session (session.js) to the views (views/*.js).
import { byId } from './dom.js';
import { explain } from './errors.js';
import { visibleName } from './format.js';
import { ChatSession, webSocketUrl } from './session.js';
import { AccountsView } from './views/accounts.js';
import { ConversationView } from './views/conversation.js';
import { DeleteDialog } from './views/delete.js';
import { LoginView } from './views/login.js';
import { StatusView } from './views/status.js';

const host = location.host;
const status = new StatusView(host);
const userBar = byId('user-bar');
const userName = byId('user-name');

const session = new ChatSession(webSocketUrl(location), {
  status: (state) => status.show(state),
  messages: (messages) => conversation.addMessages(messages),
  lost: () => conversation.note(`Connection to ${host} lost; reconnecting…`),
  reconnected: ({ username, unread }) => {
    // Everything still queued is delivered right after this (session.js).
    conversation.setUnread(0);
    conversation.note(
      `Reconnected; logged in again as ${visibleName(username)} (${unread} unread).`,
    );
  },
  refused: (error) =>
    loggedOut(
      `Reconnected, but logging in again was refused (${explain(error)}); you are logged out.`,
      true,
    ),
  loggedOut: () =>
    loggedOut('Your account was deleted in another session; you are logged out.', true),
});

const login = new LoginView({
  onLogin: async (username, password) => loggedIn(await session.login(username, password)),
  onCreate: async (username, password) => {
    await session.createAccount(username, password);
    loggedIn(await session.login(username, password));
    status.notice(`Account ${visibleName(username)} created.`);
  },
});

const conversation = new ConversationView({
  onSend: (to, body) => session.send(to, body),
  onDeliver: () => session.deliverAll(),
});

const accounts = new AccountsView({
  onList: (pattern, after, limit) => session.listAccounts(pattern, after, limit),
  onPick: (name) => conversation.writeTo(name),
});

const deleteDialog = new DeleteDialog({
  onDelete: async (password) => {
    const user = session.user;
    await session.deleteAccount(password);
    loggedOut(`Account ${visibleName(user)} deleted; you are logged out.`);
  },
  onCancel: () => status.notice('Not deleted.'),
});

byId('delete-open').addEventListener('click', () => deleteDialog.open(session.user));
byId('logoff').addEventListener('click', async () => {
  try {
    await session.logout();
    loggedOut('Logged out.');
  } catch (error) {
    loggedOut(`Logged out (the server said: ${explain(error)}).`);
  }
});

function loggedIn({ username, unread }) {
  login.hide();
  userName.textContent = visibleName(username);
  userBar.hidden = false;
  document.body.dataset.user = username;
  status.notice('');
  accounts.reset(username);
  conversation.show(username, unread);
}

function loggedOut(text, error = false) {
  deleteDialog.close();
  conversation.hide();
  userBar.hidden = true;
  delete document.body.dataset.user;
  login.show();
  status.notice(text, { error });
}

login.show();
session.connect().catch(() => status.show({ state: 'unreachable' }));
