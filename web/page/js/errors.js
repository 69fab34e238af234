// Errors in words: what a person reads instead of the protocol's codes (docs/protocol.md,
// "Error codes"), in the terminal client's wording.
import { ChatError, ConnectionLost } from './protocol.js';
import { NotConnected } from './session.js';

const WORDS = {
  bad_request: 'the server did not understand the request',
  unknown_op: 'the server does not know this operation',
  unsupported_version: 'the server speaks another protocol version',
  invalid_username: "a username is 1 to 32 letters, digits, '_', '.' or '-'",
  invalid_password: 'a password is 1 to 256 bytes of text',
  invalid_message: 'a message is 1 to 16384 bytes of UTF-8 text',
  user_exists: 'that username is already taken',
  no_such_user: 'there is no user by that name',
  bad_credentials: 'wrong username or password',
  not_logged_in: 'you are not logged in',
  already_logged_in: 'this connection is already logged in',
  frame_too_large: 'the request is too large for the server',
  rate_limited: 'too many requests at once; slow down',
  server_busy: 'the server is busy; try again later',
  internal: 'the server or the connection failed',
};

// Codes whose server message says more than the code (which lockout, which limit).
const SERVER_SAYS_MORE = new Set(['rate_limited', 'server_busy']);

export function describeCode(code) {
  return WORDS[code] || 'the server refused the request';
}

export function explain(error) {
  if (error instanceof ChatError) {
    const words = describeCode(error.code);
    if (SERVER_SAYS_MORE.has(error.code) && error.serverMessage) {
      return `${words} (${error.serverMessage})`;
    }
    return words;
  }
  if (error instanceof NotConnected) {
    return error.reconnecting
      ? 'not connected; reconnecting to the server'
      : 'not connected to the server';
  }
  if (error instanceof ConnectionLost) return error.message;
  return error && error.message ? error.message : String(error);
}
