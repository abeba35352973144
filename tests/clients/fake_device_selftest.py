#!/usr/bin/env python3
"""Self-test for dahua_client.py against a tiny fake DHIP device.

The simulator the client is meant for may not exist yet, so this fake stands in
for it to exercise the client's framing and checks.  The fake is written from
the same public reference and deliberately does awkward-but-legal things:

  * the challenge reply is spaced JSON without an error message (fixture F5 style);
  * the DVRIP getConfig reply is split into 3 DHIP packets, sent with pauses, so
    the client has to reassemble across fragments and across TCP reads;
  * an unrelated notification (client.notifyDeviceInfo) precedes the
    getMemberNames reply;
  * the alarm notification (header/JSON id = the attach id, trailing "\\n"
    counted in the length) is sent in the same TCP write as, and just before,
    the reply to the client's keepAlive -- so it is interleaved before a reply;
  * the snapshot reply is JSON, "\\n", JPEG bytes (containing "\\n" and NUL),
    plus a trailing "\\n", split over 2 packets at an arbitrary point.

It also validates what the client sends (header prefix, lengths, header session
and id equal to the JSON ones after login, login hash and fields) and fails the
scenario if anything is off.  Only 127.0.0.1 is used.

Run:  python3 fake_device_selftest.py      (exit 0 = all scenarios passed)
"""

import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "dahua_client.py")
sys.path.insert(0, HERE)
import dahua_client  # noqa: E402  (for the offline unit checks only)

HEADER = struct.Struct("<I4sIIIIII")
USER, PASSWORD = "admin", "secret-pw"
SESSION = 2869194125           # the F2 capture's session, > 2^31 on purpose
REALM = "Login to 907F3C6C73FEDA77"
RANDOM = "1f1e4fbc-858a-47c8-8a50-cb9310ad48cb"
DEVICE_ID = "SIM0123456789"
KEEPALIVE_INTERVAL = 2          # small, so the client's keepalive timer fires quickly
# A fake JPEG: SOI, a body with bytes that a naive splitter would trip on, EOI.
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\nJFIF\n\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


def packet(body, session, msg_id, total=None):
    """One DHIP packet; total defaults to this packet's length (unfragmented)."""
    return HEADER.pack(0x20, b"DHIP", session, msg_id, len(body), 0,
                       len(body) if total is None else total, 0) + body


def fragments(body, session, msg_id, cuts):
    """Split body at the given offsets into several packets sharing one total."""
    edges = [0] + list(cuts) + [len(body)]
    return [packet(body[a:b], session, msg_id, total=len(body)) for a, b in zip(edges, edges[1:])]


class FakeDevice(threading.Thread):
    """Serves exactly one connection, then stops."""

    def __init__(self, scenario):
        super().__init__(daemon=True)
        self.scenario = scenario
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.bind(("127.0.0.1", 0))   # a free loopback port
        self.srv.listen(1)
        self.srv.settimeout(30)
        self.port = self.srv.getsockname()[1]
        self.errors = []
        self.methods = []
        self.keepalives = 0
        self.attach_id = None
        self.alarm_sent = False
        self.logged_in = False

    # -- helpers --

    def expect(self, cond, msg):
        if not cond:
            self.errors.append(msg)

    def recv_exact(self, conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def read_request(self, conn):
        hdr = self.recv_exact(conn, 32)
        if hdr is None:
            return None
        hlen, magic, session, msg_id, seg, r1, total, r2 = HEADER.unpack(hdr)
        self.expect(hlen == 0x20 and magic == b"DHIP", "bad request header %s" % hdr.hex())
        self.expect(seg == total and r1 == 0 and r2 == 0, "request lengths/reserved odd: %s" % hdr.hex())
        body = self.recv_exact(conn, seg)
        req = json.loads(body.decode("utf-8"))
        self.expect(req.get("id") == msg_id, "header id %d != JSON id %r" % (msg_id, req.get("id")))
        if self.logged_in or (req.get("method") == "global.login" and req.get("session")):
            self.expect(session == SESSION, "header session %d, want %d (%s)"
                        % (session, SESSION, req.get("method")))
            self.expect(req.get("session") == SESSION, "JSON session %r, want %d (%s)"
                        % (req.get("session"), SESSION, req.get("method")))
        return req

    def reply(self, req, params=None, result=True, extra=None, spaced=False):
        obj = {"id": req["id"], "session": SESSION, "result": result, "params": params}
        obj.update(extra or {})
        text = json.dumps(obj) if spaced else json.dumps(obj, separators=(",", ":"))
        return packet(text.encode("utf-8"), SESSION, req["id"])

    def alarm_packet(self):
        note = {"id": self.attach_id, "method": "client.notifyEventStream", "session": SESSION,
                "params": {"SID": 513, "eventList": [
                    {"Code": "VideoMotion", "Action": "Start", "Index": 0,
                     "Data": {"LocaleTime": "2020-03-02 20:44:28", "UTC": 1583174668},
                     "Param": []}]}}
        # Device notifications end with a "\n" counted in the length (2.2, F6).
        body = json.dumps(note, separators=(",", ":")).encode("utf-8") + b"\n"
        return packet(body, SESSION, self.attach_id)

    # -- per-method behaviour --

    def handle(self, conn, req):
        m = req.get("method")
        self.methods.append(m)
        p = req.get("params")
        sc = self.scenario
        if m == "global.login" and not req.get("session"):
            self.expect(p.get("loginType") == "Direct" and "clientType" in p and "ipAddr" in p,
                        "step 1 params lack clientType/ipAddr/loginType Direct: %r" % p)
            if sc == "oversize":
                # A header claiming 17 MiB: the client must refuse, not wait.
                conn.sendall(HEADER.pack(0x20, b"DHIP", SESSION, req["id"], 17 << 20, 0, 17 << 20, 0))
                return
            # F5 style: spaced JSON, no error message.
            conn.sendall(self.reply(req, {"realm": REALM, "random": RANDOM, "encryption": "Default"},
                                    result=False, extra={"error": {"code": 268632079}}, spaced=True))
        elif m == "global.login":
            self.expect(p.get("authorityType") == "Default" and p.get("passwordType") == "Default",
                        "step 2 lacks authorityType/passwordType Default: %r" % p)
            ha1 = hashlib.md5(("%s:%s:%s" % (USER, REALM, PASSWORD)).encode()).hexdigest().upper()
            good = hashlib.md5(("%s:%s:%s" % (USER, RANDOM, ha1)).encode()).hexdigest().upper()
            if p.get("userName") == USER and p.get("password") == good:
                self.logged_in = True
                conn.sendall(self.reply(req, {"keepAliveInterval": KEEPALIVE_INTERVAL}))
            else:
                conn.sendall(self.reply(req, {"remainLockSecond": 0, "remainLoginTimes": 2}, result=False,
                                        extra={"error": {"code": 268632085,
                                                         "message": "User or password not valid!"}}))
        elif m == "configManager.getConfig":
            self.expect(p == {"name": "DVRIP"}, "getConfig params %r" % p)
            table = {"TCPPort": 37777, "UDPPort": 37778, "MCASTAddress": "", "MCASTEnable": False,
                     "MCASTPort": 0, "MaxConnections": 10, "StreamPolicy": "None",
                     "RegisterServer": {"DeviceID": DEVICE_ID, "Enable": True,
                                        "Servers": [{"Address": "127.0.0.1", "Port": 9500}]}}
            body = json.dumps({"id": req["id"], "session": SESSION, "result": True,
                               "params": {"table": table}}).encode()
            # 3 packets, written separately with pauses: reassembly across reads.
            for pkt in fragments(body, SESSION, req["id"], (7, len(body) // 2)):
                conn.sendall(pkt)
                time.sleep(0.05)
        elif m == "system.multicall":
            out = []
            for sub in p:
                sm = sub.get("method")
                self.methods.append("multicall:" + sm)
                sp = {"magicBox.getDeviceType": {"type": "IPC-HFW1431S"},
                      "magicBox.getDeviceClass": {"type": "IPC"},
                      "global.getCurrentTime": {"time": time.strftime("%Y-%m-%d %H:%M:%S")}}.get(sm)
                out.append({"id": sub.get("id"), "session": SESSION, "result": sp is not None, "params": sp})
            conn.sendall(self.reply(req, out))
        elif m == "userManager.getActiveUserInfoAll":
            conn.sendall(self.reply(req, {"users": [
                {"Name": USER, "ClientAddress": "127.0.0.1", "LoginTime": "2024-01-01 00:00:00",
                 "ClientType": "Web3.0", "Id": 1}]}))
        elif m == "configManager.getMemberNames":
            self.expect(p == {"name": ""}, "getMemberNames params %r" % p)
            # An unrelated notification first, in the same write: must be queued, not taken as the reply.
            note = json.dumps({"id": 0, "method": "client.notifyDeviceInfo", "session": SESSION,
                               "params": {"info": "test"}}).encode() + b"\n"
            conn.sendall(packet(note, SESSION, 0) +
                         self.reply(req, {"names": ["DVRIP", "General", "Network", "Snap"]}))
        elif m == "eventManager.attach":
            self.expect(p == {"codes": ["All"]}, "attach params %r" % p)
            self.attach_id = req["id"]
            conn.sendall(self.reply(req, {"SID": 513}))
        elif m == "global.keepAlive":
            self.keepalives += 1
            self.expect(p.get("active") is True and isinstance(p.get("timeout"), int),
                        "keepAlive params %r" % p)
            rep = self.reply(req, {"timeout": KEEPALIVE_INTERVAL})
            if sc in ("ok", "badjpeg") and not self.alarm_sent and self.attach_id is not None:
                # The alarm overtakes the keepAlive reply, in one TCP write.
                self.alarm_sent = True
                conn.sendall(self.alarm_packet() + rep)
            else:
                conn.sendall(rep)
        elif m == "snapManager.snapPicture":
            self.expect(p == {"channel": 0}, "snapPicture params %r" % p)
            jpeg = JPEG[:-1] if sc == "badjpeg" else JPEG   # badjpeg: EOI cut short
            head = json.dumps({"id": req["id"], "session": SESSION, "result": True,
                               "params": {"length": len(jpeg), "type": "jpg"}}).encode()
            body = head + b"\n" + jpeg + b"\n"
            for pkt in fragments(body, SESSION, req["id"], (len(head) + 10,)):
                conn.sendall(pkt)
        elif m == "global.logout":
            conn.sendall(self.reply(req, None))
            self.logged_in = False
        else:
            self.errors.append("unexpected method %r" % m)
            conn.sendall(self.reply(req, None, result=False,
                                    extra={"error": {"code": 268959743, "message": "Unknown method"}}))

    def run(self):
        try:
            conn, _ = self.srv.accept()
        except socket.timeout:
            self.errors.append("client never connected")
            return
        conn.settimeout(30)
        try:
            while True:
                req = self.read_request(conn)
                if req is None:
                    break
                self.handle(conn, req)
        except (OSError, ValueError) as exc:
            # A client that refused our oversize header may reset the socket.
            if self.scenario != "oversize":
                self.errors.append("fake device: %s" % exc)
        finally:
            conn.close()
            self.srv.close()


def run_client(port, *extra):
    cmd = [sys.executable, CLIENT, "--host", "127.0.0.1", "--port", str(port), "--user", USER] + list(extra)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - t0, cmd


def scenario(name, client_args, want_rc, check):
    dev = FakeDevice(name)
    dev.start()
    proc, took, cmd = run_client(dev.port, *client_args)
    dev.join(10)
    problems = list(dev.errors)
    if proc.returncode != want_rc:
        problems.append("exit code %d, want %d" % (proc.returncode, want_rc))
    lines = proc.stdout.splitlines()
    problems += check(dev, lines, proc)
    shown = " ".join(a if " " not in a else repr(a) for a in cmd[1:]).replace(HERE + "/", "")
    print("=== %s: %s (%.1fs)" % (name, "PASS" if not problems else "FAIL", took))
    print("$ python3 %s" % shown)
    print("exit code: %d" % proc.returncode)
    for line in lines:
        print("stdout: " + line)
    for line in proc.stderr.splitlines():
        print("stderr: " + line)
    print("device saw: %s" % ", ".join(dev.methods))
    for p in problems:
        print("PROBLEM: " + p)
    return not problems


def unit_checks():
    """Offline checks of the hash and body splitting against reference fixtures."""
    ok = True
    # F12 (computed in the reference): Gen2("admin","admin", F2 realm/random).
    h = dahua_client.default_login_hash("admin", "admin", REALM, RANDOM)
    ok &= h == "ACA2FCA2D2C540BA451FAF0B4F8A2510"
    # F2 body is exactly 235 bytes; F5 is spaced JSON with no message.
    f2 = (b'{"result":false,"params":{"realm":"Login to 907F3C6C73FEDA77","random":"1f1e4fbc-858a-47c8-'
          b'8a50-cb9310ad48cb","encryption":"Default"},"error":{"code":268632079,"message":"Component '
          b'error: login challenge!"},"id":0,"session":2869194125}')
    obj, pay = dahua_client.split_body(f2)
    ok &= len(f2) == 235 and obj["session"] == 2869194125 and pay is None
    f5 = (b'{ "result": false, "params": { "realm": "Login to ASI1201E", "random": "29757655", '
          b'"encryption": "Default" }, "error": { "code": 268632079 }, "id": 0, "session": 29757655 }')
    obj, pay = dahua_client.split_body(f5 + b"\n\0")
    ok &= obj["error"]["code"] == 268632079 and pay is None
    # JSON spread over lines (a naive split at the first "\n" would break), then a payload.
    obj, pay = dahua_client.split_body(b'{\n "a": "\xc3\xa9"\n}\n\x00\nxy\n')
    ok &= obj == {"a": "\u00e9"} and pay == b"\x00\nxy\n"
    # Header fixture F1 packs the same way as our requests.
    ok &= dahua_client.HEADER.pack(0x20, b"DHIP", 0, 0, 0xb8, 0, 0xb8, 0).hex() == \
        "20000000444849500000000000000000b800000000000000b800000000000000"
    # Gen1 / OldDigest and the DVRIP a0 05 body: the test vectors of docs/protocols.md 5.2.
    ok &= [dahua_client.old_digest(p) for p in ("admin", "888888", "666666")] == \
        ["6QNMIQGe", "4WzwxXxM", "sh15yfFM"]
    ok &= dahua_client.dvrip_login_body("admin", "admin", REALM, RANDOM) == \
        "admin&&ACA2FCA2D2C540BA451FAF0B4F8A251075B997E3ED7B723105A69F2C28BFD66B"
    # The vendor client's opening as captured (protocol-2 1.5), with zeros for the 3DES.
    ok &= dahua_client.dvrip_header(
        0xA0, 0, {1: b"\x05", 24: dahua_client.DVRIP_OPEN_TRAILER}).hex() == \
        "a0050060" + "00" * 20 + "050200010000a1aa"
    print("=== unit checks (F1 header, F2/F5 bodies, F12 hash, body split, Gen1, DVRIP body "
          "and opening): %s" % ("PASS" if ok else "FAIL"))
    return ok


def main():
    results = [unit_checks()]
    outdir = tempfile.mkdtemp(prefix="dahua_client_selftest_")
    snap = os.path.join(outdir, "snap.jpg")

    def ok_check(dev, lines, proc):
        probs = []
        if len(lines) != 1:
            return ["want exactly one stdout line, got %d" % len(lines)]
        s = json.loads(lines[0])
        want = {"login": "ok", "session": SESSION, "device_id": DEVICE_ID, "tcp_port": 37777,
                "multicall": True, "alarm": {"Code": "VideoMotion", "Action": "Start"},
                "snapshot_bytes": len(JPEG)}
        if s != want:
            probs.append("summary %r != %r" % (s, want))
        if not os.path.exists(snap) or open(snap, "rb").read() != JPEG:
            probs.append("snapshot file differs from the JPEG sent")
        if dev.keepalives < 1 or not dev.alarm_sent:
            probs.append("keepAlive/alarm path not exercised")
        for m in ("system.multicall", "userManager.getActiveUserInfoAll",
                  "configManager.getMemberNames", "eventManager.attach", "global.logout"):
            if m not in dev.methods:
                probs.append("client never called %s" % m)
        return probs

    def refused_check(dev, lines, proc):
        want = [json.dumps({"login": "refused", "code": 268632085, "remainLoginTimes": 2},
                           separators=(",", ":"))]
        return [] if lines == want else ["stdout %r != %r" % (lines, want)]

    def fail_check(expect_in_stderr):
        def check(dev, lines, proc):
            probs = [] if not lines else ["stdout should be empty on failure: %r" % lines]
            if expect_in_stderr not in proc.stderr:
                probs.append("stderr lacks %r" % expect_in_stderr)
            return probs
        return check

    def noalarm_check(dev, lines, proc):
        probs = fail_check("no client.notifyEventStream event")(dev, lines, proc)
        # --timeout 3 with keepAliveInterval 2 -> a keepAlive at least every second.
        if dev.keepalives < 2:
            probs.append("only %d keepAlive(s) while waiting" % dev.keepalives)
        if "global.logout" not in dev.methods:
            probs.append("no best-effort logout after the failure")
        return probs

    results.append(scenario("ok", ["--password", PASSWORD, "--expect-alarm", "--timeout", "20",
                                   "--snapshot", snap], 0, ok_check))
    results.append(scenario("wrongpw", ["--password", "wrong"], 3, refused_check))
    results.append(scenario("oversize", ["--password", PASSWORD], 1, fail_check("exceeds the 16777216-byte limit")))
    results.append(scenario("noalarm", ["--password", PASSWORD, "--expect-alarm", "--timeout", "3"], 1,
                            noalarm_check))
    results.append(scenario("badjpeg", ["--password", PASSWORD, "--expect-alarm",
                                        "--snapshot", os.path.join(outdir, "bad.jpg")], 1,
                            fail_check("does not end with FF D9")))
    shutil.rmtree(outdir, ignore_errors=True)
    print("ALL PASS" if all(results) else "SOME FAILED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
