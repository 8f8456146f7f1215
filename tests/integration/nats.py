"""nats.py - a tiny NATS client for the fleet tests, standard library only.

    nats.py [--timeout S] URLS COMMAND ARGS...

URLS is one nats://HOST:PORT (or HOST:PORT) or a comma-separated list of
them: each is tried in turn until one takes the connection, so a list
still works with some of the servers dead. Commands:

    stream-add NAME SUBJECTS REPLICAS [MAX_MSG_SIZE]
                                        create a stream (file storage, a
                                        2 min duplicate window, messages
                                        of MAX_MSG_SIZE bytes at most if
                                        given); SUBJECTS is a comma list;
                                        prints the reply
    stream-info NAME                    prints $JS.API.STREAM.INFO.NAME
    pub SUBJECT DATA [MSGID]            a JetStream publish (with the
                                        Nats-Msg-Id header if MSGID is
                                        given); prints the PubAck
    count NAME                          the messages in the stream
    ids NAME                            the Nats-Msg-Id of each message
                                        of the stream, a line each ('-'
                                        for none), in stream order
    stream-leader NAME                  the name of the stream's leader
                                        (fails while it has none)
    rm-last NAME SUBJECT...             delete the newest message of each
                                        SUBJECT from the stream (a loss
                                        made on purpose); prints the
                                        Nats-Msg-Id of each
    req SUBJECT DATA                    a plain request; prints the
                                        answer as it came
    flood SUBJECT N                     publish N messages "{}" (no
                                        acks): a backlog

Exit status: 0 done, 1 an error reply, a timeout or no server to talk to
(said on stderr), 2 a usage error. No step waits longer than the timeout
(5 s unless told): the tests poll with it, so it must never hang.

It speaks the text protocol: INFO, CONNECT, PING/PONG, SUB/UNSUB, PUB/HPUB
and MSG/HMSG, a request being a SUB on a fresh _INBOX subject and a publish
with it as the reply subject. CONNECT asks for headers and no_responders:
a request nobody serves (a stream without a leader) then comes back at
once as a 503 status, not as a timeout.
"""

import base64
import json
import os
import socket
import sys
import time

DUPLICATE_WINDOW_NS = 120 * 10**9


class NatsError(Exception):
    pass


class Conn:
    def __init__(self, url, timeout):
        self.timeout = timeout
        self.buf = b""
        self.sid = 0
        host, port = parse_url(url)
        self.deadline = time.monotonic() + timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        try:
            self.handshake()
        except BaseException:
            self.sock.close()
            raise

    # ---- reading -----------------------------------------------------------
    def fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NatsError("timed out after %g s" % self.timeout)
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise NatsError("timed out after %g s" % self.timeout)
        if not data:
            raise NatsError("the server closed the connection")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def exactly(self, n):
        # a payload and its trailing CRLF
        while len(self.buf) < n + 2:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def send(self, data):
        self.sock.settimeout(max(self.deadline - time.monotonic(), 0.001))
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise NatsError("timed out after %g s" % self.timeout)

    # ---- protocol ----------------------------------------------------------
    def handshake(self):
        first = self.line()
        if not first.startswith("INFO "):
            raise NatsError("not a NATS server (it said %r)" % first[:80])
        info = json.loads(first[5:])
        if not info.get("headers"):
            raise NatsError("the server does not support headers")
        opts = {"verbose": False, "pedantic": False, "headers": True,
                "no_responders": True, "protocol": 1, "lang": "python",
                "version": "0", "name": "smithers-test"}
        self.send(b"CONNECT " + json.dumps(opts).encode() + b"\r\nPING\r\n")
        self.wait_pong()

    def wait_pong(self):
        while True:
            line = self.line()
            if line == "PONG":
                return
            self.control(line)

    def control(self, line):
        """Handle a line that is not a message; anything unknown fails."""
        if line == "PING":
            self.send(b"PONG\r\n")
        elif line.startswith("INFO ") or line == "+OK":
            pass
        elif line.startswith("-ERR"):
            raise NatsError("server error: %s" % line[5:].strip())
        else:
            raise NatsError("unexpected from the server: %r" % line[:80])

    def next_msg(self):
        """The next MSG or HMSG: (subject, headers, status, payload)."""
        while True:
            line = self.line()
            parts = line.split()
            if parts and parts[0] == "MSG":
                # MSG subject sid [reply] size
                payload = self.exactly(int(parts[-1]))
                return parts[1], {}, None, payload
            if parts and parts[0] == "HMSG":
                # HMSG subject sid [reply] header-size total-size
                hlen, total = int(parts[-2]), int(parts[-1])
                data = self.exactly(total)
                headers, status = parse_headers(data[:hlen])
                return parts[1], headers, status, data[hlen:]
            self.control(line)

    def request(self, subject, payload, headers=None):
        self.deadline = time.monotonic() + self.timeout
        self.sid += 1
        inbox = "_INBOX.%s" % os.urandom(8).hex()
        out = b"SUB %s %d\r\n" % (inbox.encode(), self.sid)
        if headers:
            head = b"NATS/1.0\r\n"
            for k, v in headers.items():
                head += ("%s: %s\r\n" % (k, v)).encode()
            head += b"\r\n"
            out += b"HPUB %s %s %d %d\r\n" % (
                subject.encode(), inbox.encode(), len(head),
                len(head) + len(payload))
            out += head + payload + b"\r\n"
        else:
            out += b"PUB %s %s %d\r\n" % (subject.encode(), inbox.encode(),
                                          len(payload))
            out += payload + b"\r\n"
        self.send(out)
        while True:
            subj, _, status, data = self.next_msg()
            if subj == inbox:
                break
        self.send(b"UNSUB %d\r\n" % self.sid)
        if status == "503":
            raise NatsError("no responders on '%s'" % subject)
        if status is not None and not status.startswith("2"):
            raise NatsError("status %s on '%s'" % (status, subject))
        return data

    def js(self, subject, doc):
        """A JetStream API request: the reply as JSON, or NatsError."""
        data = self.request(subject, json.dumps(doc).encode())
        return js_reply(subject, data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_url(url):
    url = url.strip()
    if "://" in url:
        url = url.split("://", 1)[1]
    host, _, port = url.rpartition(":")
    if not host or not port.isdigit():
        raise NatsError("bad server address '%s' (want nats://HOST:PORT)"
                        % url)
    return host, int(port)


def parse_headers(block):
    lines = block.decode("utf-8", "replace").split("\r\n")
    # NATS/1.0 [status [description]]
    first = lines[0].split(None, 2)
    status = first[1] if len(first) > 1 else None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip()] = v.strip()
    return headers, status


def js_reply(subject, data):
    try:
        doc = json.loads(data.decode("utf-8"))
    except ValueError:
        raise NatsError("not JSON from '%s': %r" % (subject, data[:80]))
    err = doc.get("error") if isinstance(doc, dict) else None
    if err:
        raise NatsError("'%s': %s (code %s, err_code %s)" % (
            subject, err.get("description"), err.get("code"),
            err.get("err_code")))
    return doc


def connect(urls, timeout):
    """The first server of the comma list that takes the connection."""
    why = []
    for url in urls.split(","):
        if not url.strip():
            continue
        try:
            return Conn(url, timeout)
        except (OSError, NatsError, ValueError) as e:
            why.append("%s: %s" % (url.strip(), e))
    raise NatsError("no server to talk to (%s)" % "; ".join(why or
                                                           ["no URL"]))


def stream_info(conn, name):
    return conn.js("$JS.API.STREAM.INFO." + name, {})


def msg_ids(conn, name):
    """Each message's Nats-Msg-Id, read one by one by sequence number."""
    state = stream_info(conn, name)["state"]
    ids = []
    for seq in range(state["first_seq"], state["last_seq"] + 1):
        try:
            doc = conn.js("$JS.API.STREAM.MSG.GET." + name, {"seq": seq})
        except NatsError as e:
            if "10037" in str(e):  # deleted: no message there
                continue
            raise
        hdrs = doc["message"].get("hdrs")
        headers = {}
        if hdrs:
            headers, _ = parse_headers(base64.b64decode(hdrs))
        ids.append(headers.get("Nats-Msg-Id", "-"))
    return ids


def main(argv):
    timeout = 5.0
    if len(argv) >= 2 and argv[0] == "--timeout":
        try:
            timeout = float(argv[1])
        except ValueError:
            sys.stderr.write("nats.py: bad --timeout '%s'\n" % argv[1])
            return 2
        argv = argv[2:]
    usage = {"stream-add": (3, 4), "stream-info": 1, "pub": (2, 3), "count": 1,
             "ids": 1, "stream-leader": 1, "rm-last": (2, 3, 4, 5),
             "req": 2, "flood": 2}
    if len(argv) < 2 or argv[1] not in usage:
        sys.stderr.write("usage: nats.py [--timeout S] URLS stream-add|"
                         "stream-info|pub|count|ids|stream-leader|rm-last|req|"
                         "flood "
                         "ARGS...\n")
        return 2
    urls, cmd, args = argv[0], argv[1], argv[2:]
    want = usage[cmd]
    if len(args) not in (want if isinstance(want, tuple) else (want,)):
        sys.stderr.write("nats.py: wrong number of arguments for %s\n" % cmd)
        return 2
    conn = connect(urls, timeout)
    try:
        if cmd == "stream-add":
            name, subjects, replicas = args[:3]
            config = {
                "name": name, "subjects": subjects.split(","),
                "retention": "limits", "storage": "file",
                "num_replicas": int(replicas), "discard": "old",
                "duplicate_window": DUPLICATE_WINDOW_NS}
            if len(args) == 4:
                config["max_msg_size"] = int(args[3])
            doc = conn.js("$JS.API.STREAM.CREATE." + name, config)
        elif cmd == "stream-info":
            doc = stream_info(conn, args[0])
        elif cmd == "pub":
            headers = {"Nats-Msg-Id": args[2]} if len(args) == 3 else None
            data = conn.request(args[0], args[1].encode(), headers)
            doc = js_reply(args[0], data)
        elif cmd == "ids":
            for i in msg_ids(conn, args[0]):
                print(i)
            return 0
        elif cmd == "rm-last":
            # Lose the newest message of each subject; print its id.
            for subject in args[1:]:
                doc = conn.js("$JS.API.STREAM.MSG.GET." + args[0],
                              {"last_by_subj": subject})["message"]
                headers = {}
                if doc.get("hdrs"):
                    headers, _ = parse_headers(base64.b64decode(doc["hdrs"]))
                conn.js("$JS.API.STREAM.MSG.DELETE." + args[0],
                        {"seq": doc["seq"], "no_erase": True})
                print(headers.get("Nats-Msg-Id", "-"))
            return 0
        elif cmd == "req":
            # A plain request; the answer as it came.
            sys.stdout.write(conn.request(args[0], args[1].encode()).decode(
                "utf-8", "replace") + "\n")
            return 0
        elif cmd == "flood":
            # N plain messages "{}" on a subject, at once: a backlog.
            # In rounds of 5 000, each to its PONG: the server may not
            # take more from one client at once.
            n = int(args[1])
            one = b"PUB %s 2\r\n{}\r\n" % args[0].encode()
            while n > 0:
                k = min(n, 5000)
                conn.deadline = time.monotonic() + timeout
                conn.send(one * k + b"PING\r\n")
                conn.wait_pong()
                n -= k
            return 0
        elif cmd == "count":
            print(stream_info(conn, args[0])["state"]["messages"])
            return 0
        else:
            leader = stream_info(conn, args[0]).get("cluster", {}).get(
                "leader")
            if not leader:
                raise NatsError("stream '%s' has no leader" % args[0])
            print(leader)
            return 0
    finally:
        conn.close()
    print(json.dumps(doc, sort_keys=True))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except NatsError as e:
        sys.stderr.write("nats.py: %s\n" % e)
        sys.exit(1)
