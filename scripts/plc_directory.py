#!/usr/bin/env python3
"""A PLC directory for benchmarks: serves `GET /<did>` as a DID document whose #atproto key is
the did:key given for that DID in a JSON file ({did: did:key}), as `verify-bench --keys` or
`gen_firehose.py --sign --keys` write it. Prints `LISTENING <port>` once it serves.

Usage: python3 scripts/plc_directory.py KEYS.json [--port 0]
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('keys')
    ap.add_argument('--port', type=int, default=0)
    a = ap.parse_args()
    with open(a.keys) as f:
        keys = json.load(f)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            did = self.path.lstrip('/')
            key = keys.get(did)
            if key is None:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps({
                '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
                'id': did, 'alsoKnownAs': [],
                'verificationMethod': [{'id': did + '#atproto', 'type': 'Multikey', 'controller': did,
                                        'publicKeyMultibase': key[len('did:key:'):]}],
                'service': [],
            }).encode()
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(('127.0.0.1', a.port), Handler)
    print('LISTENING %d' % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == '__main__':
    sys.exit(main())
