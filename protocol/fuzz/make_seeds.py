#!/usr/bin/env python3
"""Writes the seed inputs in seeds/<target>/ (run from protocol/fuzz; see README.md).

The dhip, dvrip and wire targets read a 3-byte control prefix before the stream (see
src/lib.rs); the sync_line target reads one byte (the piece size). Streams follow the
fixtures F1-F11 of the protocol reference (protocol/tests/fixtures.rs).
"""
import json, os, struct

def dhip(session, request_id, body, fragment=None):
    fragment = fragment or max(len(body), 1)
    chunks = [body[i:i + fragment] for i in range(0, len(body), fragment)] or [b""]
    return b"".join(
        b"\x20\x00\x00\x00DHIP" + struct.pack("<IIIIII", session, request_id, len(c), 0, len(body), 0) + c
        for c in chunks)

def dvrip(first4, body=b"", dwords=None):
    header = bytearray(32)
    header[:4] = first4
    header[4:8] = struct.pack("<I", len(body))
    for at, value in (dwords or {}).items():
        header[at:at + 4] = value if isinstance(value, bytes) else struct.pack("<I", value)
    return bytes(header) + body

def f6(request_id, session, body, reply=False, fragment=None):
    fragment = fragment or max(len(body), 1)
    chunks = [body[i:i + fragment] for i in range(0, len(body), fragment)] or [b""]
    return b"".join(dvrip(bytes([0xf6, 0, 0, 0x78 if reply else 0]), c,
                          {8: request_id, 16: len(body), 24: session}) for c in chunks)

# control: no cuts, re-encode at 65 535; two cuts (5, 33) at fragment 7; one cut of 1 byte.
WHOLE = b"\x00\xff\xff"
CUT = b"\x02\x07\x00\x05\x00\x21\x00"
BYTEWISE = b"\x01\x40\x00\x01\x00"

login = json.dumps({"id": 0, "method": "global.login", "params": {"clientType": "", "ipAddr": "127.0.0.1", "loginType": "Direct", "password": "", "userName": "admin", "Encryption": "None"}, "session": 0}).encode()
challenge = b'{"result":false,"params":{"realm":"Login to 907F3C6C73FEDA77","random":"1f1e4fbc-858a-47c8-8a50-cb9310ad48cb","encryption":"Default"},"error":{"code":268632079,"message":"Component error: login challenge!"},"id":0,"session":2869194125}'
notify = b'{"id":8,"method":"client.notifyEventStream","params":{"SID":513,"eventList":[{"Code":"VideoMotion","Action":"Start","Index":0,"Data":{"LocaleTime":"2020-03-02 20:44:28","UTC":1583174668}}]},"session":1722306858}\n'
snapshot = b'{"id":9,"result":true,"params":{"length":6},"session":5}\n\xff\xd8\x0a\x00\xff\xd9'
keepalive = b'{"method":"global.keepAlive","magic":"0x1234","params":{"timeout":30,"active":true},"id":12,"session":16909060}'
announcement = dvrip(b"\xb4\x00\x00\x78", b"test894".ljust(64, b"\0"), {8: 7})

seeds = {
    "dhip": {
        "login": WHOLE + dhip(0, 0, login),
        "challenge_cut": CUT + dhip(2869194125, 0, challenge),
        "notification_bytewise": BYTEWISE + dhip(1722306858, 8, notify),
        "fragmented": CUT + dhip(5, 9, snapshot, fragment=16) + dhip(5, 10, b"{}"),
        "empty": WHOLE + dhip(0, 0, b""),
    },
    "dvrip": {
        "announcement": WHOLE + announcement,
        "serial_query_reply": CUT + dvrip(b"\xa4\x00\x00\x00", dwords={8: 7})
                              + dvrip(b"\xb4\x00\x00\x78", b"5C0726FPAGEC7C2", {8: 7}),
        "realm_login": CUT + dvrip(b"\xa0\x01\x00\x00", dwords={24: bytes.fromhex("05020101"), 28: bytes.fromhex("0000a1aa")})
                       + dvrip(b"\xb0\x01\x00\x78", b"Realm:Login to X\r\nRandom:123\r\n")
                       + dvrip(b"\xa0\x05\x00\x00", b"admin&&AB", {24: bytes.fromhex("05020008"), 28: bytes.fromhex("0000a1aa")})
                       + dvrip(b"\xb0\x00\x00\x78", dwords={8: bytes.fromhex("00080000"), 16: 77, 24: bytes.fromhex("0600f900")}),
        "keepalive": WHOLE + f6(2, 16909060, keepalive),
        "keepalive_split": BYTEWISE + f6(2, 16909060, keepalive, fragment=40),
        "logout": WHOLE + dvrip(b"\x0a\x00\x00\x00", dwords={8: 0x12345678}) + dvrip(b"\x0b\x01\x00\x78"),
        "probe": WHOLE + dvrip(b"\xa1\x00\x00\x00"),
    },
    "wire": {
        "announce_then_login": WHOLE + announcement + dhip(0, 0, login),
        "announce_then_login_cut": CUT + announcement + dhip(0, 0, login, fragment=50) + f6(3, 7, keepalive),
    },
    "sync_line": {
        "login": b"\x07Login admin|secret\nLoginOk 3|2024-05-01 10:00:00|1.2.3.4\n",
        "upload": b"\x03UploadCaramer cam1|pw|1|2\r\nUploadSucess cam1|true|1|2\n",
        "status": b"\x40CheckCaramerOnlineStatus a;b;c\nReturnCaramerOnlineStatus a;true|b;false|c;null\n",
        "push": b"\x01PrushCaramerOnlineStatus cam1:true\nPrushCaramerAlarmInfo cam1:VideoMotion\nHeartbeat\n",
        "garbage": b"\x05LoginError \xff\xfe\nNoSuchCommand x\n\\\\|;:\n",
    },
}

for target, files in seeds.items():
    os.makedirs(os.path.join("seeds", target), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join("seeds", target, name), "wb") as out:
            out.write(data)
