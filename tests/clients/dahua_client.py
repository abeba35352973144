#!/usr/bin/env python3
"""Independent Dahua DHIP client, used as a third-party interoperability probe.

This client was written only from the project's public protocol reference
(docs: /work/shared/reference/dahua-protocol.md, sections 2, 4.1, 4.2, 6, 7, 8, 9
and the "What the project implements" list).  It deliberately shares no code
with the project's Rust crates: if it can talk to `homeport sim --listen`, the
simulator speaks DHIP the way the public record says devices do, and not merely
the way the project's own client expects.

The DVRIP mode (--dvrip) was written from dahua-protocol-2.md sections 1.5, 4
and 6 (the vendor client's realm login, f6 JSON, a1/b1 keep-life, the 0x11/0xBC
snapshot) and the hashes of dahua-protocol.md 4.3 / docs/protocols.md 5.

Usage:
    python3 dahua_client.py --host 127.0.0.1 --port P --user admin --password PW \
        [--expect-alarm] [--timeout 20] [--snapshot OUT.jpg] [--verbose]
    python3 dahua_client.py --dvrip --host 127.0.0.1 --port P --user admin --password PW \
        [--snapshot OUT.jpg] [--verbose]

Exit codes:
    0  everything checked out; one JSON summary line on stdout
    1  any other failure (network, framing, protocol, content check); message on stderr
    2  bad command line (argparse)
    3  login refused with 268632085 (DVRIP: result 01 00 or 01 01); one JSON line on stdout

Standard library only, so it runs anywhere a Python 3 is installed.
"""

import argparse
import hashlib
import json
import socket
import struct
import sys
import time

# --- Protocol constants (reference section 2.1, 4.1) -----------------------

# The first 8 header bytes are fixed: header length 0x20 as u32 LE, then "DHIP".
DHIP_PREFIX = b"\x20\x00\x00\x00DHIP"
# u32 header length, 4-byte magic, session, id, this-packet length, reserved,
# total length, reserved -- all little-endian (section 2.1).
HEADER = struct.Struct("<I4sIIIIII")
HEADER_LEN = HEADER.size  # 32

# We refuse anything bigger: a snapshot is far smaller, and an unbounded length
# field from a buggy or hostile peer must not make us allocate gigabytes.
MAX_MESSAGE = 16 * 1024 * 1024
# A 16 MiB message split into tiny fragments would still be a DoS; real
# fragmentation (mcw0 `_p2p_len`) uses a handful of packets.
MAX_FRAGMENTS = 4096

ERR_LOGIN_CHALLENGE = 268632079  # 0x1003000F, step-1 "login challenge"
ERR_BAD_CREDENTIALS = 268632085  # 0x10030015, "User or password not valid!"

EVENT_ACTIONS = ("Start", "Stop", "Pulse", "State")

# The reference never sees intervals other than 60; it is also our fallback when
# the device leaves keepAliveInterval out.
DEFAULT_KEEPALIVE_INTERVAL = 60
# Brief: keepalives at least every 20 s while waiting for alarms.
MAX_KEEPALIVE_PERIOD = 20.0


# --- Errors ----------------------------------------------------------------

class ClientError(Exception):
    """Any failure that should end the run with exit code 1."""


class ProtocolError(ClientError):
    """The peer sent bytes that violate DHIP framing or JSON-RPC shape."""


class CheckError(ClientError):
    """The peer answered, but the content is not what the reference says."""


class DeadlineExpired(ClientError):
    """A read did not complete before its deadline."""


class RpcError(ClientError):
    """The device answered a call with result false / an error object."""

    def __init__(self, method, reply):
        self.method = method
        self.reply = reply
        err = dict_field(reply, "error")
        self.code = err.get("code")
        self.params = dict_field(reply, "params")
        super().__init__("%s failed: error code %r, message %r"
                         % (method, self.code, err.get("message")))


# --- Small helpers -----------------------------------------------------------

def require(cond, msg):
    """Raise a CheckError unless cond holds (keeps the checks one-liners)."""
    if not cond:
        raise CheckError(msg)


def md5_upper(text):
    """UPPERHEX(MD5(text)); ASCII/UTF-8 and latin-1 agree for ASCII (4.1)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def default_login_hash(user, password, realm, random):
    """The `Default` hash: MD5(U:random:UPPERHEX(MD5(U:realm:P))), uppercase hex."""
    ha1 = md5_upper("%s:%s:%s" % (user, realm, password))
    return md5_upper("%s:%s:%s" % (user, random, ha1))


def old_digest(password):
    """Gen1 / OldDigest: 8 characters from MD5(P), two bytes per character (4.3)."""
    d = hashlib.md5(password.encode("utf-8")).digest()
    out = []
    for i in range(8):
        v = (d[2 * i] + d[2 * i + 1]) % 62
        if v < 10:
            out.append(chr(ord("0") + v))
        elif v < 36:
            out.append(chr(ord("A") + v - 10))
        else:
            out.append(chr(ord("a") + v - 36))
    return "".join(out)


def dvrip_login_body(user, password, realm, random):
    """The a0 05 body: U && Default hash && UPPERHEX(MD5(U:random:Gen1(P))) (4.3)."""
    dvrip_hash = md5_upper("%s:%s:%s" % (user, random, old_digest(password)))
    return "%s&&%s%s" % (user, default_login_hash(user, password, realm, random), dvrip_hash)


def is_int(v):
    # bool is an int subclass in Python; JSON true must not pass as a number.
    return isinstance(v, int) and not isinstance(v, bool)


def dict_field(obj, key):
    """obj[key] if it is an object, else {} (for the optional "error" and "params")."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def save_jpeg(jpeg, path, what):
    """Check the JPEG markers (FF D8 ... FF D9) and write the picture to path."""
    require(jpeg[:2] == b"\xff\xd8", "%s does not start with FF D8" % what)
    require(jpeg[-2:] == b"\xff\xd9", "%s does not end with FF D9" % what)
    try:
        with open(path, "wb") as f:
            f.write(jpeg)
    except OSError as exc:
        raise ClientError("cannot write %s: %s" % (path, exc))


def split_body(body):
    """Split a reassembled DHIP body into (json_object, binary_payload_or_None).

    The layout is JSON, then optionally one "\\n" and raw bytes (section 2.2).
    We must not look for the first "\\n" blindly: spaced JSON from some firmware
    may itself contain newlines.  Instead the first JSON value is decoded and
    whatever follows it is examined.  Decoding as latin-1 maps every byte to one
    character, so the decoder's end index is also a byte offset; the JSON text
    is then re-decoded as UTF-8 so that non-ASCII strings come out right.
    """
    text = body.decode("latin-1")
    start = len(text) - len(text.lstrip(" \t\r\n\0"))
    try:
        _, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError as exc:
        raise ProtocolError("body is not JSON (%s): %r" % (exc, body[:120]))
    try:
        obj = json.loads(body[start:end].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError("JSON body is not valid UTF-8 JSON: %s" % exc)
    if not isinstance(obj, dict):
        raise ProtocolError("JSON body is not an object: %r" % (obj,))
    rest = body[end:]
    # Notifications end with a "\n" counted in the length, and some peers pad
    # with NUL (2.2): such a tail is not a payload.
    if rest.strip(b"\r\n\0 \t") == b"":
        return obj, None
    if not rest.startswith(b"\n"):
        raise ProtocolError("unexpected bytes after the JSON body: %r" % rest[:40])
    return obj, rest[1:]


class Message(object):
    """One reassembled DHIP message."""

    __slots__ = ("session", "id", "obj", "payload", "fragments")

    def __init__(self, session, msg_id, obj, payload, fragments):
        self.session = session      # header session (not trusted for notifications, 2.1)
        self.id = msg_id            # header id
        self.obj = obj              # decoded JSON object
        self.payload = payload      # bytes after "JSON\n", or None
        self.fragments = fragments  # number of DHIP packets it arrived in

    @property
    def is_notification(self):
        # Device-initiated messages carry "method" and no "result" (2.2).  They
        # reuse the attach request's id (2.3), so the id alone cannot tell a
        # notification from the reply we are waiting for.
        return "method" in self.obj and "result" not in self.obj


# --- Connection ----------------------------------------------------------------

class Connection(object):
    """What both framings share: the socket, the receive buffer, request ids, tracing."""

    def __init__(self, host, port, rpc_timeout, verbose=False):
        self.rpc_timeout = rpc_timeout
        self.verbose = verbose
        try:
            self.sock = socket.create_connection((host, port), timeout=rpc_timeout)
        except OSError as exc:
            raise ClientError("cannot connect to %s:%s: %s" % (host, port, exc))
        self.buf = bytearray()      # bytes received but not yet forming a whole message/packet
        self.session = 0            # 0 until the login assigns one (4.1)
        self.next_id = 1

    def log(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("[dahua_client] " + (fmt % args) + "\n")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def alloc_id(self):
        # mcw0 wraps ids at 0xFFFFFFFF (2.3); we skip 0 so that a zero header id
        # never looks like one of our requests.
        i = self.next_id
        self.next_id = self.next_id + 1 if self.next_id < 0xFFFFFFFF else 1
        return i

    def build_request(self, method, params, msg_id=None):
        req = {"id": self.alloc_id() if msg_id is None else msg_id,
               "magic": "0x1234",
               "method": method,
               "params": params,
               "session": self.session}
        return req

    def _read(self, take, deadline, unit):
        """Block until take() finds one whole `unit` in the buffer or the deadline passes."""
        while True:
            got = take()
            if got is not None:
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExpired("timed out waiting for data from the device")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise DeadlineExpired("timed out waiting for data from the device")
            except OSError as exc:
                raise ClientError("receive failed: %s" % exc)
            if not data:
                raise ClientError("device closed the connection"
                                  + (" mid-%s" % unit if self.buf else ""))
            self.buf += data


class DhipConnection(Connection):
    """A DHIP JSON-RPC connection with the client side of the framing."""

    def __init__(self, host, port, rpc_timeout, verbose=False):
        super().__init__(host, port, rpc_timeout, verbose)
        self.notifications = []     # notifications that arrived while waiting for replies

    # -- sending --

    def _header_session(self):
        # TCP devices use integer sessions; HTTP RPC2 ones use hex strings (4.1).
        # The header can only carry a u32, so a non-numeric session goes as 0
        # there (VTOs are known to accept zero header fields, 2.1).
        s = self.session
        if isinstance(s, str) and s.isdigit():
            s = int(s)
        return s if is_int(s) and 0 <= s <= 0xFFFFFFFF else 0

    def send(self, req):
        body = json.dumps(req, separators=(",", ":")).encode("utf-8")
        # Requests are sent unfragmented; a server should fill session and id
        # in the header as well as in the JSON (2.1).
        header = HEADER.pack(0x20, b"DHIP", self._header_session(), req["id"] & 0xFFFFFFFF,
                             len(body), 0, len(body), 0)
        self.log("-> %s", body.decode("utf-8"))
        try:
            self.sock.sendall(header + body)
        except OSError as exc:
            raise ClientError("send failed (%s): %s" % (req.get("method"), exc))

    # -- receiving --

    def _take_message(self):
        """Return one whole message from self.buf (consuming it), or None.

        Nothing is consumed until every fragment of the message is buffered, so
        a read that times out halfway never loses bytes.  Each fragment has its
        own header with this packet's length at +16 and the message total at
        +24; fragments are concatenated until their sum reaches the total.
        """
        off = 0
        parts = []
        got = 0
        first = None
        total = None
        while True:
            if len(self.buf) - off < HEADER_LEN:
                return None
            hdr = bytes(self.buf[off:off + HEADER_LEN])
            if hdr[:8] != DHIP_PREFIX:
                raise ProtocolError("bad DHIP header (want 20 00 00 00 'DHIP'): %s"
                                    % hdr.hex())
            _, _, session, msg_id, seg_len, _, seg_total, _ = HEADER.unpack(hdr)
            # Bound lengths before waiting for (or allocating) the body.
            if seg_total > MAX_MESSAGE:
                raise ProtocolError("message total length %d exceeds the %d-byte limit"
                                    % (seg_total, MAX_MESSAGE))
            if seg_total == 0:
                raise ProtocolError("DHIP message with total length 0")
            if first is None:
                first = (session, msg_id)
                total = seg_total
            elif seg_total != total:
                raise ProtocolError("fragment says total %d, earlier fragment said %d"
                                    % (seg_total, total))
            if seg_len > total - got:
                raise ProtocolError("fragment of %d bytes overruns total %d (have %d)"
                                    % (seg_len, total, got))
            if len(self.buf) - off - HEADER_LEN < seg_len:
                return None
            start = off + HEADER_LEN
            parts.append(bytes(self.buf[start:start + seg_len]))
            got += seg_len
            off = start + seg_len
            if got == total:
                break
            if len(parts) >= MAX_FRAGMENTS:
                raise ProtocolError("more than %d fragments in one message" % MAX_FRAGMENTS)
        del self.buf[:off]
        obj, payload = split_body(b"".join(parts))
        msg = Message(first[0], first[1], obj, payload, len(parts))
        self.log("<- (%d packet(s), header session %d id %d) %s%s",
                 len(parts), first[0], first[1], json.dumps(obj)[:400],
                 "" if payload is None else " + %d payload bytes" % len(payload))
        return msg

    def read_message(self, deadline):
        """Block until one whole message is available or the deadline passes."""
        return self._read(self._take_message, deadline, "message")

    def wait_reply(self, req, deadline):
        """Read until the reply whose JSON id matches req; queue notifications."""
        while True:
            try:
                msg = self.read_message(deadline)
            except DeadlineExpired:
                raise DeadlineExpired("no reply to %s (id %d) in time"
                                      % (req["method"], req["id"]))
            if msg.is_notification:
                self.notifications.append(msg)
                continue
            if msg.obj.get("id") == req["id"]:
                return msg
            # A late reply to an earlier call: not ours, and not fatal.
            self.log("ignoring reply with unexpected id %r", msg.obj.get("id"))

    def call_raw(self, method, params, timeout=None):
        """Send one request and return the matching reply Message."""
        req = self.build_request(method, params)
        self.send(req)
        deadline = time.monotonic() + (self.rpc_timeout if timeout is None else timeout)
        return self.wait_reply(req, deadline)

    def call(self, method, params, timeout=None):
        """Like call_raw, but insist on result true; returns the Message."""
        msg = self.call_raw(method, params, timeout)
        if msg.obj.get("result") is not True:
            raise RpcError(method, msg.obj)
        return msg

    def next_notification(self, deadline):
        """Return a queued or newly read notification, or None at the deadline."""
        while True:
            if self.notifications:
                return self.notifications.pop(0)
            try:
                msg = self.read_message(deadline)
            except DeadlineExpired:
                return None
            if msg.is_notification:
                return msg
            self.log("ignoring unsolicited reply with id %r", msg.obj.get("id"))


# --- DVRIP (binary 32-byte headers) -------------------------------------------------

DVRIP_HEADER_LEN = 32
# Trailer bytes +24..+31 of the vendor client's two login packets (protocol-2 1.5):
# +27 = 01 opens, +27 = 08 carries the hashes.
DVRIP_OPEN_TRAILER = bytes.fromhex("05 02 00 01 00 00 a1 aa")
DVRIP_HASH_TRAILER = bytes.fromhex("05 02 00 08 00 00 a1 aa")
# The vendor's requests carry protocol version 6 in byte 3.
DVRIP_REQUEST_VERSION = 0x60
CMD_LOGIN, CMD_LOGIN_REPLY = 0xA0, 0xB0
CMD_KEEPALIVE, CMD_KEEPALIVE_REPLY = 0xA1, 0xB1
CMD_JSON = 0xF6
CMD_MEDIA_REQUEST, CMD_MEDIA_DATA = 0x11, 0xBC
CMD_LOGOUT, CMD_LOGOUT_REPLY = 0x0A, 0x0B
SNAP_MARK = 10                 # +28 of the request, +24 of the data (protocol-2 4)
SNAP_SERIAL = 7                # our command serial; the device echoes its low byte at +25
# Login replies are small (the 2010 SDK wants them under 64 bytes; a challenge is ~70).
MAX_LOGIN_REPLY = 4096
MAX_SNAP_PIECES = 4096


def dvrip_header(cmd, body_len, fields=None, version=DVRIP_REQUEST_VERSION):
    """A 32-byte DVRIP header: cmd, byte 3 = version, u32 length at +4, then offset: bytes."""
    h = bytearray(DVRIP_HEADER_LEN)
    h[0] = cmd
    h[3] = version
    struct.pack_into("<I", h, 4, body_len)
    for off, value in (fields or {}).items():
        h[off:off + len(value)] = value
    return bytes(h)


def u32(b, off):
    return struct.unpack_from("<I", b, off)[0]


class DvripConnection(Connection):
    """The client side of DVRIP framing: 32-byte headers, body length at +4."""

    def send(self, header, body=b""):
        self.log("-> %s + %d body bytes", header.hex(), len(body))
        try:
            self.sock.sendall(header + body)
        except OSError as exc:
            raise ClientError("send failed (command %02x): %s" % (header[0], exc))

    def _take_packet(self):
        """One whole packet (header, body) from the buffer, or None; bounded by MAX_MESSAGE."""
        if len(self.buf) < DVRIP_HEADER_LEN:
            return None
        header = bytes(self.buf[:DVRIP_HEADER_LEN])
        length = u32(header, 4)
        if length > MAX_MESSAGE:
            raise ProtocolError("DVRIP packet body of %d bytes exceeds the %d-byte limit"
                                % (length, MAX_MESSAGE))
        if len(self.buf) < DVRIP_HEADER_LEN + length:
            return None
        body = bytes(self.buf[DVRIP_HEADER_LEN:DVRIP_HEADER_LEN + length])
        del self.buf[:DVRIP_HEADER_LEN + length]
        self.log("<- %s + %d body bytes", header.hex(), len(body))
        return header, body

    def read_packet(self, deadline):
        return self._read(self._take_packet, deadline, "packet")

    def expect(self, cmd, what, deadline=None):
        """The next packet with command `cmd`; other commands are skipped (logged)."""
        deadline = time.monotonic() + self.rpc_timeout if deadline is None else deadline
        while True:
            try:
                header, body = self.read_packet(deadline)
            except DeadlineExpired:
                raise DeadlineExpired("no %s (command %02x) in time" % (what, cmd))
            if header[0] == cmd:
                # Replies carry the protocol version in byte 3's high nibble, 8 below it.
                require(header[3] & 0x0F == 0x08,
                        "%s: byte 3 is %02x, not a reply (low nibble 8)" % (what, header[3]))
                return header, body
            self.log("skipping command %02x while waiting for %s", header[0], what)

    def call_json(self, method, params):
        """One JSON-RPC call in f6 packets, as the vendor client writes it (spaced, \n\0)."""
        req = self.build_request(method, params)
        req_id = req["id"]
        body = (json.dumps(req) + "\n\0").encode("utf-8")
        self.send(dvrip_header(CMD_JSON, len(body), {
            8: struct.pack("<I", req_id), 16: struct.pack("<I", len(body)),
            24: struct.pack("<I", self.session)}), body)
        deadline = time.monotonic() + self.rpc_timeout
        while True:
            header, first = self.expect(CMD_JSON, "f6 reply to %s" % method, deadline)
            parts, total = [first], u32(header, 16)
            if total > MAX_MESSAGE:
                raise ProtocolError("f6 message of %d bytes exceeds the limit" % total)
            # +16 holds the whole message's length; further f6 packets carry the rest.
            while sum(len(p) for p in parts) < total:
                if len(parts) >= MAX_FRAGMENTS:
                    raise ProtocolError("more than %d f6 fragments" % MAX_FRAGMENTS)
                _, more = self.expect(CMD_JSON, "rest of the f6 reply", deadline)
                parts.append(more)
            obj, _ = split_body(b"".join(parts))
            if obj.get("id") == req_id and "result" in obj:
                require(u32(header, 24) in (0, self.session),
                        "f6 reply header session %d is not ours (%d)"
                        % (u32(header, 24), self.session))
                if obj.get("result") is False:
                    raise RpcError(method, obj)
                return obj
            self.log("skipping f6 message %r", json.dumps(obj)[:120])


class DvripLoginRefused(Exception):
    def __init__(self, result, remain):
        super().__init__("DVRIP login refused (%s)" % result)
        self.result = result
        self.remain = remain


def dvrip_login(conn, user, password):
    """The vendor client's realm login (protocol-2 1.5). Returns (session, channels)."""
    # Opening: a0 05 00 60, no body, zeros at +8..+23 (as the S6 client), trailer +27 = 01.
    conn.send(dvrip_header(CMD_LOGIN, 0, {1: b"\x05", 24: DVRIP_OPEN_TRAILER}))
    header, body = conn.expect(CMD_LOGIN_REPLY, "realm challenge")
    require(len(body) <= MAX_LOGIN_REPLY, "challenge of %d bytes is too long" % len(body))
    fields = {}
    for line in body.decode("latin-1").replace("\r", "").split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    if "random" not in fields or "realm" not in fields:
        raise ProtocolError("b0 answer to the opening is no Realm:/Random: challenge "
                            "(header %s, body %r)" % (header.hex(), body[:80]))
    text = dvrip_login_body(user, password, fields["realm"], fields["random"]).encode("utf-8")
    conn.send(dvrip_header(CMD_LOGIN, len(text), {1: b"\x05", 24: DVRIP_HASH_TRAILER}), text)
    header, body = conn.expect(CMD_LOGIN_REPLY, "login result")
    require(header[24:28] == b"\x06\x00\xf9\x00", "login result lacks the 06 00 f9 00 mark")
    result = header[8:10].hex(" ")
    if header[8] != 0:
        raise DvripLoginRefused(result, header[29])
    session = u32(header, 16)
    require(session != 0, "login success carries session 0")
    return session, header[10]


def dvrip_keepalive(conn):
    """a1, all zeros -> b1 (protocol-2 1e, 6 item 12)."""
    conn.send(dvrip_header(CMD_KEEPALIVE, 0, version=0))
    conn.expect(CMD_KEEPALIVE_REPLY, "b1 keep-life answer")


def dvrip_snapshot(conn, path):
    """0x11 with +28 = 10 and the 40-byte body; the JPEG in 0xBC pieces (+24 = 10) until
    an empty one (protocol-2 4)."""
    body = bytearray(40)
    struct.pack_into("<iiiiii", body, 0, 0, 0, 0, 0, 0, SNAP_SERIAL)   # channel 0, mode 0
    body[24] = 1                                                        # start
    conn.send(dvrip_header(CMD_MEDIA_REQUEST, len(body), {28: bytes([SNAP_MARK])}), bytes(body))
    deadline = time.monotonic() + max(conn.rpc_timeout, 20)
    pieces, size = [], 0
    while True:
        header, piece = conn.expect(CMD_MEDIA_DATA, "snapshot piece", deadline)
        if header[24] != SNAP_MARK:
            conn.log("skipping a media packet that is no snapshot piece")
            continue
        require(header[8] == 0, "snapshot piece for channel %d, asked for 0" % header[8])
        require(header[25] == SNAP_SERIAL, "snapshot piece for serial %d, asked for %d"
                % (header[25], SNAP_SERIAL))
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
        if size > MAX_MESSAGE or len(pieces) > MAX_SNAP_PIECES:
            raise ProtocolError("snapshot larger than %d bytes or %d pieces"
                                % (MAX_MESSAGE, MAX_SNAP_PIECES))
    jpeg = b"".join(pieces)
    save_jpeg(jpeg, path, "DVRIP snapshot")
    return len(jpeg), len(pieces)


def dvrip_logout(conn):
    """0a with the session at +8 -> 0b (protocol.md 3.7)."""
    conn.send(dvrip_header(CMD_LOGOUT, 0, {8: struct.pack("<I", conn.session)}, version=0))
    conn.expect(CMD_LOGOUT_REPLY, "logout answer")


def run_dvrip(args):
    conn = DvripConnection(args.host, args.port, args.rpc_timeout, args.verbose)
    try:
        session, channels = dvrip_login(conn, args.user, args.password)
        conn.session = session
        obj = conn.call_json("magicBox.getDeviceType", None)
        params = obj.get("params")
        require(isinstance(params, dict) and isinstance(params.get("type"), str)
                and params["type"], "magicBox.getDeviceType: params.type is not a string")
        dvrip_keepalive(conn)
        snap = dvrip_snapshot(conn, args.snapshot) if args.snapshot else None
        dvrip_logout(conn)
        summary = {"login": "ok", "transport": "dvrip", "session": session,
                   "channels": channels, "device_type": params["type"], "keepalive": True,
                   "snapshot_bytes": None if snap is None else snap[0],
                   "snapshot_pieces": None if snap is None else snap[1]}
        print(json.dumps(summary, separators=(",", ":")))
        return 0
    finally:
        conn.close()


# --- The session the CLI drives ---------------------------------------------------

class LoginRefused(Exception):
    def __init__(self, code, remain):
        super().__init__("login refused (%s)" % code)
        self.code = code
        self.remain = remain


def login(conn, user, password):
    """Two-step global.login (4.1). Returns keepAliveInterval."""
    try:
        ip_addr = conn.sock.getsockname()[0]
    except OSError:
        ip_addr = "127.0.0.1"
    base = {"userName": user, "password": "", "clientType": "Web3.0",
            "ipAddr": ip_addr, "loginType": "Direct"}

    # Step 1: session 0, empty password; the device answers with a challenge.
    conn.session = 0
    msg = conn.call_raw("global.login", base)
    reply = msg.obj
    code = dict_field(reply, "error").get("code")
    if code == ERR_BAD_CREDENTIALS:
        # Some devices reject an unknown user already at step 1.
        raise LoginRefused(code, dict_field(reply, "params").get("remainLoginTimes"))
    if reply.get("result") is not False or code != ERR_LOGIN_CHALLENGE:
        raise ProtocolError("step 1: expected result false with error %d (challenge), got %s"
                            % (ERR_LOGIN_CHALLENGE, json.dumps(reply)[:300]))
    params = reply.get("params")
    require(isinstance(params, dict), "challenge has no params object")
    realm, random, encryption = params.get("realm"), params.get("random"), params.get("encryption")
    require(isinstance(realm, str) and isinstance(random, str),
            "challenge lacks string realm/random: %r" % (params,))
    if encryption != "Default":
        raise ClientError("challenge asks for encryption %r; this client implements only "
                          "\"Default\"" % (encryption,))
    session = reply.get("session")
    if session is None or session == 0:
        # The JSON session is authoritative; fall back to the header's.
        session = msg.session
    require(session not in (None, 0, ""), "challenge assigned no session")
    if is_int(session) and msg.session not in (0, session & 0xFFFFFFFF):
        conn.log("note: challenge header session %d differs from JSON session %d",
                 msg.session, session)

    # Step 2: the session from the challenge, in the header and the JSON.
    conn.session = session
    p2 = dict(base)
    p2.update({"password": default_login_hash(user, password, realm, random),
               "authorityType": "Default", "passwordType": "Default"})
    msg = conn.call_raw("global.login", p2)
    reply = msg.obj
    if reply.get("result") is not True:
        code = dict_field(reply, "error").get("code")
        if code == ERR_BAD_CREDENTIALS:
            raise LoginRefused(code, dict_field(reply, "params").get("remainLoginTimes"))
        raise RpcError("global.login (step 2)", reply)
    # The device may repeat the session; it must not change it.
    if reply.get("session") not in (None, session):
        raise CheckError("login success carries session %r, challenge gave %r"
                         % (reply.get("session"), session))
    interval = dict_field(reply, "params").get("keepAliveInterval", DEFAULT_KEEPALIVE_INTERVAL)
    require(is_int(interval) and interval > 0,
            "bad keepAliveInterval %r" % (interval,))
    return interval


def check_dvrip_config(conn):
    """configManager.getConfig DVRIP and the RegisterServer fields (section 6)."""
    msg = conn.call("configManager.getConfig", {"name": "DVRIP"})
    params = msg.obj.get("params")
    require(isinstance(params, dict) and isinstance(params.get("table"), dict),
            "getConfig DVRIP: params.table is not an object")
    table = params["table"]
    require(is_int(table.get("TCPPort")), "DVRIP.TCPPort missing or not an integer")
    rs = table.get("RegisterServer")
    require(isinstance(rs, dict), "DVRIP.RegisterServer missing or not an object")
    require(isinstance(rs.get("Enable"), bool), "RegisterServer.Enable missing or not a bool")
    require(isinstance(rs.get("DeviceID"), str), "RegisterServer.DeviceID missing or not a string")
    servers = rs.get("Servers")
    require(isinstance(servers, list) and servers and isinstance(servers[0], dict),
            "RegisterServer.Servers is not a non-empty list of objects")
    require(isinstance(servers[0].get("Address"), str),
            "RegisterServer.Servers[0].Address missing or not a string")
    require(is_int(servers[0].get("Port")), "RegisterServer.Servers[0].Port missing or not an integer")
    return rs["DeviceID"], table["TCPPort"]


def check_console_calls(conn):
    """What a third-party console (mcw0 DahuaConsole) asks right after login (item 7)."""
    # system.multicall: params is a list of whole requests, each with its own id (2.4).
    inner = [conn.build_request(m, None) for m in
             ("magicBox.getDeviceType", "magicBox.getDeviceClass", "global.getCurrentTime")]
    msg = conn.call("system.multicall", inner)
    replies = msg.obj.get("params")
    require(isinstance(replies, list) and len(replies) == len(inner),
            "multicall: params is not a list of %d replies: %r" % (len(inner), replies))
    for req, rep in zip(inner, replies):
        require(isinstance(rep, dict), "multicall: reply is not an object: %r" % (rep,))
        require(rep.get("id") == req["id"],
                "multicall: reply order/id mismatch (want id %d for %s, got %r)"
                % (req["id"], req["method"], rep.get("id")))
        require(rep.get("result") is True, "multicall: %s failed: %r" % (req["method"], rep))
        require(isinstance(rep.get("params"), dict), "multicall: %s has no params" % req["method"])
    for rep in replies[:2]:
        require(isinstance(rep["params"].get("type"), str) and rep["params"]["type"],
                "magicBox type is not a non-empty string: %r" % (rep["params"],))
    now = replies[2]["params"].get("time")
    try:
        time.strptime(now, "%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        raise CheckError("global.getCurrentTime params.time %r is not yyyy-MM-dd HH:mm:ss" % (now,))

    # userManager.getActiveUserInfoAll: DahuaConsole crashes on anything but a user list.
    msg = conn.call("userManager.getActiveUserInfoAll", None)
    params = msg.obj.get("params")
    require(isinstance(params, dict) and isinstance(params.get("users"), list),
            "getActiveUserInfoAll: params.users is not a list")
    for u in params["users"]:
        require(isinstance(u, dict), "getActiveUserInfoAll: user entry is not an object")
        missing = [k for k in ("Name", "ClientAddress", "LoginTime", "ClientType", "Id") if k not in u]
        require(not missing, "getActiveUserInfoAll: user entry lacks %s" % ", ".join(missing))

    # configManager.getMemberNames: the reference only says "-> the config names"
    # without naming the key, so accept any list of strings in params, and insist
    # it names the DVRIP table we have just read.
    msg = conn.call("configManager.getMemberNames", {"name": ""})
    params = msg.obj.get("params")
    require(isinstance(params, dict), "getMemberNames: params is not an object")
    lists = [v for v in params.values()
             if isinstance(v, list) and v and all(isinstance(x, str) for x in v)]
    require(lists, "getMemberNames: params holds no list of config names: %r" % (params,))
    require(any("DVRIP" in v for v in lists), "getMemberNames: config names do not include DVRIP")


def valid_event(ev):
    """An eventList entry with Code, Action, Index and Data.UTC (7.2)."""
    return (isinstance(ev, dict)
            and isinstance(ev.get("Code"), str) and ev["Code"]
            and ev.get("Action") in EVENT_ACTIONS
            and is_int(ev.get("Index"))
            and isinstance(ev.get("Data"), dict)
            and isinstance(ev["Data"].get("UTC"), (int, float))
            and not isinstance(ev["Data"].get("UTC"), bool))


def wait_for_alarm(conn, timeout, keepalive_interval):
    """Wait for a client.notifyEventStream event, keeping the session alive."""
    # Keep well inside the device's interval and never wait longer than 20 s.
    period = min(MAX_KEEPALIVE_PERIOD, max(1.0, keepalive_interval / 2.0))
    end = time.monotonic() + timeout
    next_keepalive = time.monotonic() + period
    while True:
        now = time.monotonic()
        if now >= end:
            return None
        if now >= next_keepalive:
            # The reply wait queues any notification that overtakes it.
            msg = conn.call("global.keepAlive",
                            {"timeout": keepalive_interval, "active": True})
            params = msg.obj.get("params")
            require(isinstance(params, dict) and is_int(params.get("timeout")),
                    "keepAlive reply lacks params.timeout: %r" % (msg.obj,))
            next_keepalive = time.monotonic() + period
            continue
        note = conn.next_notification(min(end, next_keepalive))
        if note is None:
            continue
        if note.obj.get("method") != "client.notifyEventStream":
            conn.log("skipping notification %r", note.obj.get("method"))
            continue
        params = note.obj.get("params")
        events = params.get("eventList") if isinstance(params, dict) else None
        if not isinstance(events, list):
            raise CheckError("notifyEventStream without a params.eventList list: %r"
                             % (note.obj,))
        for ev in events:
            if valid_event(ev):
                return ev
        raise CheckError("notifyEventStream eventList has no event with Code, Action "
                         "(Start/Stop/Pulse/State), Index and Data.UTC: %r" % (events,))


def take_snapshot(conn, path):
    """snapManager.snapPicture: JSON, '\\n', then params.length JPEG bytes (section 8)."""
    msg = conn.call("snapManager.snapPicture", {"channel": 0}, timeout=max(conn.rpc_timeout, 20))
    params = msg.obj.get("params")
    require(isinstance(params, dict) and is_int(params.get("length")) and params["length"] > 0,
            "snapPicture: params.length missing or not a positive integer")
    kind = params.get("type")
    require(kind is None or kind in ("jpg", "jpeg"), "snapPicture: type %r is not jpg" % (kind,))
    length = params["length"]
    payload = msg.payload
    require(payload is not None, "snapPicture: no binary payload after the JSON")
    require(len(payload) >= length, "snapPicture: payload has %d bytes, params.length says %d"
            % (len(payload), length))
    jpeg, extra = payload[:length], payload[length:]
    # Only a trailing newline/NUL may follow (2.2); anything else means the
    # length and the data disagree.
    require(extra.strip(b"\n\0") == b"",
            "snapPicture: %d unexpected bytes after the JPEG" % len(extra))
    save_jpeg(jpeg, path, "snapPicture: data")
    return length


def run(args):
    conn = DhipConnection(args.host, args.port, args.rpc_timeout, args.verbose)
    logged_in = False
    try:
        interval = login(conn, args.user, args.password)
        logged_in = True
        device_id, tcp_port = check_dvrip_config(conn)
        check_console_calls(conn)

        conn.call("eventManager.attach", {"codes": ["All"]})
        alarm = None
        if args.expect_alarm:
            ev = wait_for_alarm(conn, args.timeout, interval)
            if ev is None:
                raise ClientError("no client.notifyEventStream event within %g s" % args.timeout)
            alarm = {"Code": ev["Code"], "Action": ev["Action"]}

        snap = take_snapshot(conn, args.snapshot) if args.snapshot else None

        conn.call("global.logout", None)
        logged_in = False
        summary = {"login": "ok", "session": conn.session, "device_id": device_id,
                   "tcp_port": tcp_port, "multicall": True, "alarm": alarm,
                   "snapshot_bytes": snap}
        print(json.dumps(summary, separators=(",", ":")))
        return 0
    finally:
        if logged_in:
            # Leave no dangling session behind after a failed check; errors here
            # would only hide the real one.
            try:
                conn.call_raw("global.logout", None, timeout=2)
            except Exception:
                pass
        conn.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent Dahua DHIP client (interop probe).")
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--expect-alarm", action="store_true",
                    help="wait for a client.notifyEventStream event after attaching")
    ap.add_argument("--timeout", type=float, default=20.0,
                    help="seconds to wait for the alarm (default 20)")
    ap.add_argument("--snapshot", metavar="OUT.jpg",
                    help="fetch snapManager.snapPicture channel 0 and write the JPEG here")
    ap.add_argument("--rpc-timeout", type=float, default=10.0,
                    help="seconds to wait for each reply (default 10)")
    ap.add_argument("--dvrip", action="store_true",
                    help="log in over DVRIP (realm login), then one f6 call, a1 keep-life, "
                         "and --snapshot over DVRIP")
    ap.add_argument("-v", "--verbose", action="store_true", help="trace messages on stderr")
    args = ap.parse_args(argv)
    if args.dvrip and args.expect_alarm:
        ap.error("--expect-alarm is not implemented in --dvrip mode")
    try:
        return run_dvrip(args) if args.dvrip else run(args)
    except DvripLoginRefused as exc:
        # Bad password (01 00) or bad user (01 01) is a refusal; locked and others are failures.
        if exc.result in ("01 00", "01 01"):
            print(json.dumps({"login": "refused", "result": exc.result,
                              "remainLoginTimes": exc.remain}, separators=(",", ":")))
            return 3
        sys.stderr.write("dahua_client: error: DVRIP login refused with result %s\n" % exc.result)
        return 1
    except LoginRefused as exc:
        print(json.dumps({"login": "refused", "code": exc.code,
                          "remainLoginTimes": exc.remain}, separators=(",", ":")))
        return 3
    except ClientError as exc:
        sys.stderr.write("dahua_client: error: %s: %s\n" % (type(exc).__name__, exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
