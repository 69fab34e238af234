#!/usr/bin/env python3
"""Hostile gRPC clients against the real chatd while a normal user keeps going. Starts
`chatd --transport=grpc --store=memory`, then:
  1. a hash flood: one channel fires many concurrent Login calls (the attacker's own correct
     password); a victim on another channel must still log in within a second, and chatd must
     not write a log line per refused call;
  2. a stream flood: many Subscribe streams on one session; the ones past the per-session cap
     are refused with rate_limited, and chatd's memory stays bounded while pushes flow.
Prints the victim's latency and chatd's RSS, and exits non-zero on the first failed check.

usage: grpc_hostile.py --chatd PATH --stubs DIR
"""

import argparse
import queue
import re
import subprocess
import sys
import threading
import time

TIMEOUT = 10


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def start_chatd(chatd, extra):
    proc = subprocess.Popen(
        [chatd, "--transport=grpc", "--store=memory", "--listen", "127.0.0.1",
         "--grpc-port", "0", "--log-level", "info", "--hash-threads", "2"] + extra,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    log = []

    def pump():
        for line in proc.stderr:
            log.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = lines.get(timeout=TIMEOUT)
        if line is None:
            break
        m = re.search(r"listening transport=grpc .*port=(\d+)", line)
        if m:
            return proc, int(m.group(1)), log
    proc.kill()
    raise AssertionError("chatd did not report its gRPC port")


def run(port, proc, log):
    import grpc
    from chat.v1 import chat_pb2 as pb
    from chat.v1 import chat_pb2_grpc as pb_grpc

    target = f"127.0.0.1:{port}"
    # Each channel its own connection (gRPC shares one between equal channels otherwise).
    own = [("grpc.use_local_subchannel_pool", 1)]
    attacker_channel = grpc.insecure_channel(target, options=own)
    attacker = pb_grpc.ChatStub(attacker_channel)
    victim_channel = grpc.insecure_channel(target, options=own)
    victim = pb_grpc.ChatStub(victim_channel)
    for name in ("mallory", "alice", "bob"):
        attacker.CreateAccount(pb.CreateAccountRequest(username=name, password="pw " + name),
                               timeout=TIMEOUT)

    # 1. Hash flood: 1500 Logins at once on one channel.
    log_lines_before = len(log)
    flood = [attacker.Login.future(pb.LoginRequest(username="mallory", password="pw mallory"),
                                   timeout=60) for _ in range(1500)]
    started = time.monotonic()
    victim.Login(pb.LoginRequest(username="alice", password="pw alice"), timeout=TIMEOUT)
    victim_seconds = time.monotonic() - started
    outcomes = {}
    for call in flood:
        try:
            call.result()
            outcomes["ok"] = outcomes.get("ok", 0) + 1
        except grpc.RpcError as e:
            key = e.code().name
            outcomes[key] = outcomes.get(key, 0) + 1
    refused_lines = [l for l in log[log_lines_before:] if "refused" in l or "request failed" in l]
    print(f"hash flood: victim login {victim_seconds * 1000:.0f} ms; flood outcomes {outcomes}; "
          f"{len(refused_lines)} log lines about refusals")
    check(victim_seconds < 1.0, f"victim login took {victim_seconds:.2f} s under a hash flood")
    check(outcomes.get("UNAVAILABLE", 0) > 0, "the flood was never refused")
    check(len(refused_lines) < 50, f"{len(refused_lines)} log lines for refused calls")

    # 2. Stream flood: 40 Subscribe streams on one session, then pushes to it.
    me = victim.Login(pb.LoginRequest(username="bob", password="pw bob"), timeout=TIMEOUT)
    md = (("authorization", "Bearer " + me.session_token),)
    base_kib = rss_kib(proc.pid)
    streams = [attacker.Subscribe(pb.SubscribeRequest(), metadata=md) for _ in range(40)]
    refused = 0
    for s in streams:
        try:
            md_in = dict(s.initial_metadata())
            if md_in.get("chat-subscribed") != "1":
                refused += 1
        except grpc.RpcError:
            refused += 1
    sender = victim.Login(pb.LoginRequest(username="alice", password="pw alice"), timeout=TIMEOUT)
    smd = (("authorization", "Bearer " + sender.session_token),)
    body = "x" * 16000
    worst = 0.0
    for _ in range(240):
        t = time.monotonic()
        victim.Send(pb.SendRequest(to="bob", body=body), metadata=smd, timeout=TIMEOUT)
        worst = max(worst, time.monotonic() - t)
    peak_kib = rss_kib(proc.pid)
    print(f"stream flood: {refused} of 40 streams refused; chatd RSS {base_kib // 1024} -> "
          f"{peak_kib // 1024} MiB after 240 pushes of 16 KiB; slowest send {worst * 1000:.0f} ms")
    check(refused >= 32, f"only {refused} of 40 streams on one session were refused")
    check(peak_kib - base_kib < 256 * 1024, "chatd grew by more than 256 MiB")
    check(worst < 1.0, f"a normal send took {worst:.2f} s during the stream flood")
    for s in streams:
        s.cancel()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chatd", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--extra", default="", help="more chatd flags, space separated")
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    # Unauthenticated calls are rate limited per address: the flood shares 127.0.0.1 with the
    # victim here, so that limit is off to put the hashing pool's fairness under test.
    proc, port, log = start_chatd(args.chatd, ["--rate-limit", "0"] + args.extra.split())
    try:
        run(port, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
    print("grpc hostile clients: all checks passed")


if __name__ == "__main__":
    main()
