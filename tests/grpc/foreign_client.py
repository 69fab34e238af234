#!/usr/bin/env python3
"""A foreign gRPC client for chatd: Python stubs generated from proto/chat/v1/chat.proto, no
code of ours. Starts `chatd --transport=grpc --store=memory --grpc-port 0`, then creates two
accounts, logs both in, subscribes, sends, receives the push, checks error codes in the trailing
metadata, lists the services through server reflection, deletes an account (its stream gets
LoggedOut) and stops the server. Exits non-zero on the first failed check.

usage: foreign_client.py --chatd PATH --stubs DIR
"""

import argparse
import os
import queue
import re
import signal
import subprocess
import sys
import threading

TIMEOUT = 10  # seconds for anything that must happen


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def start_chatd(chatd):
    """Starts chatd and returns (process, port) once it logs its gRPC port."""
    proc = subprocess.Popen(
        [chatd, "--transport=grpc", "--store=memory", "--listen", "127.0.0.1",
         "--grpc-port", "0", "--log-level", "info"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()

    def pump():
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("chatd did not report its gRPC port in time")
        if line is None:
            raise AssertionError("chatd exited before listening")
        match = re.search(r"listening transport=grpc .*port=(\d+)", line)
        if match:
            return proc, int(match.group(1))


def expect_error(call, code, chat_code):
    """Runs `call`, which must fail with gRPC `code` and chat-error-code `chat_code`."""
    import grpc
    try:
        call()
    except grpc.RpcError as e:
        check(e.code() == code, f"expected {code}, got {e.code()}: {e.details()}")
        trailers = dict(e.trailing_metadata() or ())
        check(trailers.get("chat-error-code") == chat_code,
              f"chat-error-code {trailers.get('chat-error-code')!r}, expected {chat_code!r}")
        check(e.details().startswith(chat_code + ": "),
              f"status message {e.details()!r} lacks the prefix {chat_code!r}")
        return
    raise AssertionError(f"expected {chat_code}, the call succeeded")


def run(port):
    import grpc
    from chat.v1 import chat_pb2 as pb
    from chat.v1 import chat_pb2_grpc as pb_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    stub = pb_grpc.ChatStub(channel)

    def auth(token):
        return [("authorization", f"Bearer {token}")]

    hello = stub.Hello(pb.HelloRequest(version=1), timeout=TIMEOUT)
    check(hello.version == 1 and hello.server.startswith("chatd/"), f"hello: {hello}")
    check(hello.max_frame == 65536, f"max_frame {hello.max_frame}")

    suffix = str(os.getpid())
    alice, bob = f"py_alice_{suffix}", f"py_bob_{suffix}"
    for name in (alice, bob):
        stub.CreateAccount(pb.CreateAccountRequest(username=name, password="pw " + name),
                           timeout=TIMEOUT)
    expect_error(lambda: stub.CreateAccount(
        pb.CreateAccountRequest(username=alice.upper(), password="x"), timeout=TIMEOUT),
        grpc.StatusCode.ALREADY_EXISTS, "user_exists")

    a = stub.Login(pb.LoginRequest(username=alice, password="pw " + alice), timeout=TIMEOUT)
    b = stub.Login(pb.LoginRequest(username=bob.upper(), password="pw " + bob), timeout=TIMEOUT)
    check(b.username == bob and b.unread == 0, f"login: {b}")
    check(len(a.session_token) >= 22, "a session token of at least 128 bits")

    # Bob's pushes: the stream is live once its initial metadata has arrived.
    stream = stub.Subscribe(pb.SubscribeRequest(), metadata=auth(b.session_token))
    initial = dict(stream.initial_metadata())
    check(initial.get("chat-subscribed") == "1", f"initial metadata {initial}")
    events = queue.Queue()

    def read_events():
        try:
            for event in stream:
                events.put(event)
            events.put(("end", grpc.StatusCode.OK))
        except grpc.RpcError as e:
            events.put(("end", e.code()))

    reader = threading.Thread(target=read_events, daemon=True)
    reader.start()

    sent = stub.Send(pb.SendRequest(to=bob, body="hello from python \u00e9"),
                     metadata=auth(a.session_token), timeout=TIMEOUT).message
    check(sent.id > 0 and sent.to == bob and getattr(sent, "from") == alice, f"sent: {sent}")
    pushed = events.get(timeout=TIMEOUT)
    check(not isinstance(pushed, tuple) and pushed.WhichOneof("kind") == "message",
          f"expected a message push, got {pushed}")
    check(pushed.message == sent, f"push {pushed.message} differs from {sent}")

    fetched = stub.Fetch(pb.FetchRequest(), metadata=auth(b.session_token), timeout=TIMEOUT)
    check([m.id for m in fetched.messages] == [sent.id] and fetched.remaining == 0,
          f"fetch: {fetched}")
    acked = stub.Ack(pb.AckRequest(ids=[sent.id]), metadata=auth(b.session_token),
                     timeout=TIMEOUT)
    check(acked.acked == 1, f"ack: {acked}")

    page = stub.ListAccounts(pb.ListAccountsRequest(pattern="py_*_" + suffix, limit=1),
                             metadata=auth(a.session_token), timeout=TIMEOUT)
    check(list(page.accounts) == [alice] and page.next != "", f"list page 1: {page}")
    page = stub.ListAccounts(pb.ListAccountsRequest(pattern="py_*_" + suffix, limit=1,
                                                    after=page.next),
                             metadata=auth(a.session_token), timeout=TIMEOUT)
    check(list(page.accounts) == [bob] and page.next == "", f"list page 2: {page}")

    # Errors: the code in the trailing metadata and as the status message prefix.
    expect_error(lambda: stub.Send(pb.SendRequest(to="nobody_" + suffix, body="hi"),
                                   metadata=auth(a.session_token), timeout=TIMEOUT),
                 grpc.StatusCode.NOT_FOUND, "no_such_user")
    expect_error(lambda: stub.Fetch(pb.FetchRequest(), timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "not_logged_in")
    expect_error(lambda: stub.Fetch(pb.FetchRequest(), metadata=auth("forged"), timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "not_logged_in")
    expect_error(lambda: stub.Login(pb.LoginRequest(username=alice, password="wrong"),
                                    timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "bad_credentials")

    # Server reflection, spoken raw: ServerReflectionRequest{list_services: ""}.
    reflect = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=lambda b: b, response_deserializer=lambda b: b)
    replies = list(reflect(iter([b"\x3a\x00"]), timeout=TIMEOUT))
    check(replies and b"chat.v1.Chat" in replies[0], f"reflection replies {replies!r}")

    # Deleting bob's account: his stream gets LoggedOut, then ends OK; his token is revoked.
    stub.DeleteAccount(pb.DeleteAccountRequest(password="pw " + bob),
                       metadata=auth(b.session_token), timeout=TIMEOUT)
    event = events.get(timeout=TIMEOUT)
    check(not isinstance(event, tuple) and event.WhichOneof("kind") == "logged_out"
          and event.logged_out.reason == "account_deleted", f"expected logged_out, got {event}")
    end = events.get(timeout=TIMEOUT)
    check(end == ("end", grpc.StatusCode.OK), f"stream end {end}")
    reader.join(TIMEOUT)
    expect_error(lambda: stub.Fetch(pb.FetchRequest(), metadata=auth(b.session_token),
                                    timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "not_logged_in")

    stub.Logout(pb.LogoutRequest(), metadata=auth(a.session_token), timeout=TIMEOUT)
    channel.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chatd", required=True)
    parser.add_argument("--stubs", required=True, help="directory holding chat/v1/chat_pb2*.py")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)

    proc, port = start_chatd(args.chatd)
    try:
        run(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("chatd did not stop on SIGTERM")
    check(code == 0, f"chatd exited with {code}")
    print(f"foreign gRPC client: all checks passed against chatd on port {port}")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
