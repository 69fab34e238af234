#!/usr/bin/python3
"""End-to-end test of the `chat` client against a real `chatd` on a loopback ephemeral port,
over one transport (--transport json|grpc).

Runs the scripted subcommands (create-account, send, fetch, list, --json, error exit codes)
and drives the interactive mode through a pipe (login, a live push, send, list, delete, and
the server going away: with --no-reconnect the session ends, by default it reconnects to the
server started again on the same port and database). Standard library only. Exit status 0 when every check passes.
"""

import argparse
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import time

TIMEOUT = 10.0
failures = []


def check(condition, what, detail=""):
    if condition:
        print(f"ok   {what}")
    else:
        print(f"FAIL {what} {detail}")
        failures.append(what)


class Reader:
    """Collects the output of a pipe and waits (bounded) for text to appear in it."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd, selectors.EVENT_READ)
        self.text = ""
        self.closed = False

    def pump(self, timeout):
        if self.closed:
            return
        for _ in self.sel.select(timeout):
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not data:
                self.closed = True
                return
            self.text += data.decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while re.search(pattern, self.text) is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self.pump(left)
        return re.search(pattern, self.text)


def start_chatd(chatd, transport, store=("--store=memory",), port=0):
    """Starts chatd serving `transport` on `port` (0: any free one); returns it and its port."""
    ports = {"json": "0", "grpc": "0"}
    ports[transport] = str(port)
    proc = subprocess.Popen(
        [chatd, *store, "--transport", transport, "--json-port", ports["json"],
         "--grpc-port", ports["grpc"], "--rate-limit", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    reader = Reader(proc.stderr)
    match = reader.wait_for(rf"listening transport={transport} addr=127\.0\.0\.1 port=(\d+)")
    if match is None:
        proc.kill()
        proc.wait(TIMEOUT)
        raise RuntimeError("chatd did not report its port: " + reader.text)
    return proc, int(match.group(1))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chat", required=True)
    parser.add_argument("--chatd", required=True)
    parser.add_argument("--transport", default="json", choices=["json", "grpc"])
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    env = dict(os.environ)
    env.pop("CHAT_PASSWORD", None)
    env.pop("CHAT_USER", None)
    env["TZ"] = "UTC"

    def pwfile(name, password):
        path = os.path.join(tmp.name, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        return path

    pw = {"alice": pwfile("alice", "alice-secret"), "bob": pwfile("bob", "bob secret ü"),
          "wrong": pwfile("wrong", "not-it")}

    server, port = start_chatd(args.chatd, args.transport)
    interactive = []
    try:
        def chat(*argv, user=None, password=None, stdin=None, port_=None):
            cmd = [args.chat, "--transport", args.transport, "--port", str(port_ or port),
                   "--timeout", "5"]
            if user:
                cmd += ["--user", user]
            if password:
                cmd += ["--password-file", password]
            cmd += list(argv)
            return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                                  env=env, timeout=TIMEOUT, stdin=None if stdin else subprocess.DEVNULL)

        # Accounts.
        r = chat("create-account", user="alice", password=pw["alice"])
        check(r.returncode == 0 and "created account alice" in r.stdout, "create alice", r)
        r = chat("--json", "create-account", user="bob", password=pw["bob"])
        ok = r.returncode == 0 and json.loads(r.stdout) == {"username": "bob", "created": True}
        check(ok, "create bob with --json", r)
        r = chat("create-account", user="ALICE", password=pw["bob"])
        check(r.returncode == 1 and r.stderr.startswith("error: user_exists: "),
              "duplicate name (any case) is user_exists", r)

        # Send, fetch, fetch again.
        r = chat("send", "bob", "hello", "bob", user="alice", password=pw["alice"])
        check(r.returncode == 0 and re.match(r"sent message \d+ to bob", r.stdout), "send", r)
        r = chat("send", "bob", user="alice", password=pw["alice"], stdin="from stdin\nline 2\n")
        check(r.returncode == 0, "send body from stdin", r)
        r = chat("fetch", user="bob", password=pw["bob"])
        check(r.returncode == 0 and "] alice: hello bob\n" in r.stdout and "from stdin" in r.stdout,
              "fetch shows the messages", r)
        r = chat("fetch", user="bob", password=pw["bob"])
        check(r.returncode == 0 and r.stdout == "" and "no new messages" in r.stderr,
              "second fetch shows none (acked)", r)

        # --json output.
        r = chat("--json", "send", "bob", 'quote " and \\ and\ttab', user="alice",
                 password=pw["alice"])
        sent = json.loads(r.stdout) if r.returncode == 0 else {}
        check(sent.get("from") == "alice" and sent.get("to") == "bob"
              and sent.get("body") == 'quote " and \\ and\ttab' and sent.get("id", 0) > 0,
              "send --json parses", r)
        r = chat("fetch", "--json", "--max", "5", user="bob", password=pw["bob"])
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        check(r.returncode == 0 and len(lines) == 1 and lines[0] == sent, "fetch --json parses", r)

        # List with patterns.
        r = chat("list", "a*", user="bob", password=pw["bob"])
        check(r.returncode == 0 and r.stdout == "alice\n", "list a*", r)
        r = chat("--json", "list", user="bob", password=pw["bob"])
        names = [json.loads(line)["username"] for line in r.stdout.splitlines()]
        check(r.returncode == 0 and names == ["alice", "bob"], "list --json", r)
        r = chat("list", "?OB", user="bob", password=pw["bob"])
        check(r.stdout == "bob\n", "list ?OB (case-insensitive)", r)

        # Errors and exit codes.
        r = chat("fetch", user="bob", password=pw["wrong"])
        check(r.returncode == 1 and r.stderr.startswith("error: bad_credentials: "),
              "bad password exits 1 with bad_credentials", r)
        r = chat("send", "nobody", "hi", user="bob", password=pw["bob"])
        check(r.returncode == 1 and r.stderr.startswith("error: no_such_user: "),
              "unknown recipient exits 1 with no_such_user", r)
        r = chat("fetch", user="bob", password=pw["bob"], port_=free_port())
        check(r.returncode == 3 and "cannot connect" in r.stderr, "unreachable port exits 3", r)
        r = chat("--password", "hunter2-secret", "fetch", user="bob")
        check(r.returncode == 2 and "hunter2" not in r.stderr + r.stdout,
              "--password on the command line is refused", r)
        r = chat("fetch", user="bob")
        check(r.returncode == 2 and "CHAT_PASSWORD" in r.stderr, "no password source exits 2", r)
        r = chat("fetch")
        check(r.returncode == 2, "no --user exits 2", r)
        env["CHAT_PASSWORD"] = "bob secret ü"
        r = chat("fetch", user="bob")
        del env["CHAT_PASSWORD"]
        check(r.returncode == 0, "CHAT_PASSWORD works", r)

        # Interactive mode through a pipe.
        def start_interactive(*extra):
            proc = subprocess.Popen([args.chat, "--transport", args.transport, "--port", str(port),
                                     *extra],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env)
            interactive.append(proc)
            return proc, Reader(proc.stdout)

        def type_(proc, text):
            proc.stdin.write(text.encode())
            proc.stdin.flush()

        bob, out = start_interactive()
        type_(bob, "2\nbob\nbob secret ü\n")
        check(out.wait_for(r"Logged in as bob\.") is not None, "interactive login", out.text)
        r = chat("send", "bob", "live push", user="alice", password=pw["alice"])
        check(out.wait_for(r"\[\d\d:\d\d\] alice: live push\n") is not None,
              "interactive shows a push at once", out.text)
        type_(bob, "send alice hi from the pipe\n")
        check(out.wait_for(r"Sent to alice\.") is not None, "interactive send", out.text)
        type_(bob, "list al*\n")
        check(out.wait_for(r"\n  alice\n") is not None, "interactive list", out.text)
        type_(bob, "fetch\n")
        check(out.wait_for(r"No new messages\.") is not None,
              "pushed message was acked (fetch shows none)", out.text)
        type_(bob, "quit\n")
        bob.stdin.close()
        check(bob.wait(TIMEOUT) == 0 and out.wait_for(r"Bye\.") is not None,
              "interactive quit exits 0", out.text)
        r = chat("fetch", user="alice", password=pw["alice"])
        check("] bob: hi from the pipe\n" in r.stdout, "message sent interactively arrives", r)

        carol, out = start_interactive("--user", "carol")
        type_(carol, "1\n\ncarol-pw\nsend carol note to self\n")
        check(out.wait_for(r"carol: note to self") is not None, "interactive create + self push",
              out.text)
        type_(carol, "delete\ncarol-pw\nyes\n")
        check(out.wait_for(r"Account carol deleted") is not None, "interactive delete", out.text)
        check(out.wait_for(r"1\) create account") is not None, "back to the menu after delete",
              out.text)
        type_(carol, "3\n")
        carol.stdin.close()
        check(carol.wait(TIMEOUT) == 0, "quit from the menu exits 0", out.text)
        check("another session" not in out.text, "own delete is not reported as news", out.text)

        # With --no-reconnect the server going away ends an interactive session (status 3).
        alice, out = start_interactive("--no-reconnect")
        type_(alice, "2\nalice\nalice-secret\n")
        check(out.wait_for(r"Logged in as alice\.") is not None, "login before server stops",
              out.text)
        server.terminate()
        server.wait(TIMEOUT)
        check(out.wait_for(r"Disconnected from the server: ") is not None,
              "server gone is reported", out.text)
        check(alice.wait(TIMEOUT) == 3, "server gone exits 3", out.text)

        # By default it reconnects: a durable chatd is stopped (SIGTERM) and started again on
        # the same port and database; the session says so in one line each and goes on.
        db = ("--store=sqlite", "--db", os.path.join(tmp.name, "chat.db"))
        server, port = start_chatd(args.chatd, args.transport, store=db)
        r = chat("create-account", user="dave", password=pwfile("dave", "dave-pw"))
        check(r.returncode == 0, "create dave on the durable server", r)
        r = chat("create-account", user="erin", password=pwfile("erin", "erin-pw"))
        check(r.returncode == 0, "create erin on the durable server", r)
        dave, out = start_interactive()
        type_(dave, "2\ndave\ndave-pw\n")
        check(out.wait_for(r"Logged in as dave\.") is not None, "login before the restart",
              out.text)
        server.terminate()
        server.wait(TIMEOUT)
        lost_line = f"Connection to 127.0.0.1:{port} lost; reconnecting...\n"
        check(out.wait_for(re.escape(lost_line)) is not None, "the loss is one line", out.text)
        server, _ = start_chatd(args.chatd, args.transport, store=db, port=port)
        check(out.wait_for(r"Reconnected; logged in again as dave \(0 unread\)\.\n") is not None,
              "reconnected and logged in again", out.text)
        type_(dave, "send erin after the restart\n")
        check(out.wait_for(r"Sent to erin\.") is not None, "the prompt works after reconnecting",
              out.text)
        r = chat("send", "dave", "live after the restart", user="erin",
                 password=pwfile("erin", "erin-pw"))
        check(r.returncode == 0 and out.wait_for(r"erin: live after the restart\n") is not None,
              "pushes arrive after reconnecting", out.text)
        check(out.text.count("lost; reconnecting") == 1 and out.text.count("Reconnected;") == 1
              and "Disconnected" not in out.text, "one line for the loss, one for the return",
              out.text)
        type_(dave, "quit\n")
        dave.stdin.close()
        check(dave.wait(TIMEOUT) == 0 and out.wait_for(r"Bye\.") is not None,
              "quit after reconnecting exits 0", out.text)
    finally:
        for proc in interactive:
            if proc.poll() is None:
                proc.kill()
            proc.wait(TIMEOUT)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(TIMEOUT)
        tmp.cleanup()

    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
