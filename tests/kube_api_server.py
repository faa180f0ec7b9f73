#!/usr/bin/env python3
"""A stand-in Kubernetes API server over HTTPS for src/names/kube_api's tests.

Standard library only. Listens on 127.0.0.1 on a free port, prints the port
as the first line of stdout, and serves until its stdin closes (the test
that started it is gone) or --lifetime seconds pass.

Modes:
  https         GET /api/v1/{pods,services,nodes}: the fixture files, to a
                client that shows a certificate signed by --ca or sends
                "Authorization: Bearer <--token>"; 401 Status otherwise.
                --forbid PATH answers 403 Status there, --redirect PATH a
                302 to /api/v1/pods, --invalid-json PATH a body that is not
                JSON, --huge PATH a 500 MB PodList, chunked, counting what
                it managed to send.
  hang          completes TLS, reads the request, never answers.
  drip          answers 200 with a Content-Length of 1 MB, then one byte
                every 50 ms.
  tls-garbage   completes TLS, then sends bytes that are not HTTP.
  tcp-garbage   sends bytes that are not TLS as soon as a client connects.
  never-accept  a listener whose backlog is full and that never accepts.

Every request and outcome is appended to --log, one line each.
"""

import argparse
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time

LISTS = {
    "/api/v1/pods": "pods.json",
    "/api/v1/services": "services.json",
    "/api/v1/nodes": "nodes.json",
}
HUGE_BYTES = 500 * 1000 * 1000
GARBAGE = b"\x00\xffSSH-2.0-not-http\r\n" * 64

log_lock = threading.Lock()


def log(args, line):
    with log_lock, open(args.log, "a") as f:
        f.write(line + "\n")


def status_body(code, reason, message):
    return json.dumps({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }).encode()


def make_handler(args, context):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle(self):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as err:
                log(args, f"handshake failed: {err}")
                return
            super().handle()

        def log_message(self, format, *values):
            pass

        def who(self):
            cert = self.request.getpeercert()
            if cert:
                names = dict(pair[0] for pair in cert["subject"])
                return "cert:" + names.get("commonName", "?")
            if self.headers.get("Authorization") == f"Bearer {args.token}":
                return "token"
            return "none"

        def answer(self, code, body, content_type="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            who = self.who()
            log(args, f"GET {self.path} auth={who} accept={self.headers.get('Accept')} "
                      f"agent={self.headers.get('User-Agent')}")
            if who == "none":
                return self.answer(401, status_body(401, "Unauthorized", "Unauthorized"))
            if path not in LISTS:
                return self.answer(404, status_body(404, "NotFound", "the server could not find the requested resource"))
            if path == args.forbid:
                resource = path.rsplit("/", 1)[1]
                message = (f'{resource} is forbidden: User "system:node:node-a" cannot list '
                           f'resource "{resource}" in API group "" at the cluster scope')
                return self.answer(403, status_body(403, "Forbidden", message))
            if path == args.redirect:
                self.send_response(302)
                self.send_header("Location", "/api/v1/pods")
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.close_connection = True
                return
            if path == args.invalid_json:
                return self.answer(200, b'{"kind": "PodList", "items": [ {"metadata": ')
            if path == args.huge:
                return self.send_huge()
            with open(os.path.join(args.fixtures, LISTS[path]), "rb") as f:
                self.answer(200, f.read())

        def send_huge(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            # Pods of a realistic size (~2 KB, mostly fields cnetstat skips),
            # so the byte cap, not the item cap, is what stops the client.
            padding = b"x" * 1900
            item = (b'{"metadata":{"name":"filler","namespace":"default","annotations":{"padding":"'
                    + padding + b'"}},"status":{"podIP":"10.0.0.1"}},')
            chunk = item * ((1 << 20) // len(item))
            sent = 0
            try:
                self.write_chunk(b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[')
                while sent < HUGE_BYTES:
                    self.write_chunk(chunk)
                    sent += len(chunk)
                self.write_chunk(b'{"metadata":{"name":"last"}}]}')
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            log(args, f"huge sent={sent}")
            self.close_connection = True

        def write_chunk(self, data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    return Handler


def serve_https(args, listener, context):
    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):
            conn, addr = self.socket.accept()
            return context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

    server = Server(listener.getsockname(), make_handler(args, context), bind_and_activate=False)
    server.socket = listener
    server.serve_forever()


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(4096)
        if not more:
            break
        data += more
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def serve_raw(args, listener, context):
    def one(conn):
        try:
            if args.mode == "tcp-garbage":
                conn.sendall(GARBAGE)
                log(args, "sent garbage over tcp")
                time.sleep(args.lifetime)
                return
            conn = context.wrap_socket(conn, server_side=True)
            request = read_request(conn)
            log(args, f"{request} ({args.mode})")
            if args.mode == "hang":
                time.sleep(args.lifetime)
            elif args.mode == "drip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000000\r\n\r\n{\"kind\":\"PodList\",\"items\":[")
                while True:
                    conn.sendall(b" ")
                    time.sleep(0.05)
            elif args.mode == "tls-garbage":
                conn.sendall(GARBAGE)
                time.sleep(args.lifetime)
        except OSError as err:
            log(args, f"connection ended: {err}")
        finally:
            conn.close()

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=one, args=(conn,), daemon=True).start()


def never_accept(listener):
    # With a backlog of 0 the kernel queues one finished handshake; once it
    # is queued, it drops further SYNs, so a client's connect never ends.
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    time.sleep(0.2)
    return fillers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="https",
                        choices=["https", "hang", "drip", "tls-garbage", "tcp-garbage", "never-accept"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--ca")
    parser.add_argument("--token", default="")
    parser.add_argument("--fixtures")
    parser.add_argument("--log", required=True)
    parser.add_argument("--forbid")
    parser.add_argument("--invalid-json")
    parser.add_argument("--redirect")
    parser.add_argument("--huge")
    parser.add_argument("--lifetime", type=float, default=60)
    args = parser.parse_args()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0 if args.mode == "never-accept" else 16)
    fillers = never_accept(listener) if args.mode == "never-accept" else None

    context = None
    if args.mode != "never-accept":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        context.load_verify_locations(args.ca)
        context.verify_mode = ssl.CERT_OPTIONAL

    print(listener.getsockname()[1], flush=True)

    # The test owns this process: when its end of stdin closes, stop.
    def watch_stdin():
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()

    if args.mode == "https":
        serve_https(args, listener, context)
    elif args.mode == "never-accept":
        while fillers is not None:
            time.sleep(1)
    else:
        serve_raw(args, listener, context)


if __name__ == "__main__":
    main()
