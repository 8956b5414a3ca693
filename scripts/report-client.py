#!/usr/bin/env python3
"""An independent client for createReport: Python with `cryptography` (PyPI), none of our code.

It makes its reporters' keys and service-auth tokens itself (ES256 on P-256 and ES256K on
secp256k1; JWTs signed as a PDS signs them: raw r||s, low-S), serves their DID documents from a
PLC directory of its own, starts `labeler run` with reports enabled and `identity.plc_url`
pointed at that directory, and checks what the labeler answers:

- a good report (on either curve) is 200 and is then listed by `labeler reports list --json`;
- a bad signature, another audience, another method, an expired token, a high-S or DER
  signature, and no token at all are each 401 AuthenticationRequired, and store nothing;
- a reason over 20,000 bytes is 413.

Exits non-zero, saying what differed, on any difference.

    python3 scripts/report-client.py PATH/TO/labeler
"""
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

LABELER_DID = "did:plc:reportclientlabelerlabel"
METHOD = "com.atproto.moderation.createReport"

# name -> (curve, JWT alg, multicodec prefix of the compressed public key, group order)
CURVES = {
    "p256": (ec.SECP256R1(), "ES256", b"\x80\x24",
             0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "secp256k1": (ec.SECP256K1(), "ES256K", b"\xe7\x01",
                  0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141),
}

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58btc(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = BASE58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Reporter:
    def __init__(self, did: str, curve: str):
        self.did = did
        self.curve_name = curve
        self.curve, self.alg, self.prefix, self.order = CURVES[curve]
        self.key = ec.generate_private_key(self.curve)

    @property
    def did_key(self) -> str:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        return "did:key:z" + base58btc(self.prefix + point)

    def sign(self, message: bytes, high_s=False, der=False) -> bytes:
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        if s > self.order // 2:
            s = self.order - s  # atproto takes only the low-S twin
        if high_s:
            s = self.order - s
        if der:
            return encode_dss_signature(r, s)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def token(self, aud=LABELER_DID + "#atproto_labeler", lxm=METHOD, iat=None, exp=None, bad_signature=False,
              high_s=False, der=False) -> str:
        now = int(time.time())
        iat = now if iat is None else iat
        header = {"typ": "JWT", "alg": self.alg}
        payload = {"iss": self.did, "aud": aud, "lxm": lxm, "iat": iat, "exp": now + 60 if exp is None else exp,
                   "jti": uuid.uuid4().hex}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())
        signature = bytearray(self.sign(signing_input.encode(), high_s=high_s, der=der))
        if bad_signature:
            signature[5] ^= 0x01
        return signing_input + "." + b64url(bytes(signature))


def serve_plc(reporters):
    """A PLC directory: GET /<did> answers the DID's document with its #atproto key."""
    documents = {}
    for reporter in reporters:
        documents[reporter.did] = json.dumps({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": reporter.did, "alsoKnownAs": [],
            "verificationMethod": [{"id": reporter.did + "#atproto", "type": "Multikey",
                                    "controller": reporter.did,
                                    "publicKeyMultibase": reporter.did_key[len("did:key:"):]}],
            "service": [],
        }).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = documents.get(self.path.lstrip("/"))
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def post(port: int, body: dict, token):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/xrpc/{METHOD}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"unparsed": text}


def account(did: str, reason_type="com.atproto.moderation.defs#reasonSpam", reason=None) -> dict:
    body = {"reasonType": reason_type, "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did}}
    if reason is not None:
        body["reason"] = reason
    return body


def main() -> int:
    labeler = os.path.abspath(sys.argv[1])
    problems = []
    p256 = Reporter("did:plc:reportclientpaaaaaaaaaaa", "p256")
    k256 = Reporter("did:plc:reportclientkaaaaaaaaaaa", "secp256k1")
    plc = serve_plc([p256, k256])
    work = tempfile.mkdtemp(prefix="labeler-report-client-")
    environment = dict(
        os.environ, LABELER_SOURCE_URL="ws://127.0.0.1:9", LABELER_STORE_PATH=work + "/labels.sqlite",
        LABELER_SIGNING_KEY=work + "/signing.key", LABELER_DID=LABELER_DID, LABELER_SERVER_PORT="0",
        LABELER_REPORTS_ENABLED="true", LABELER_IDENTITY_PLC_URL=f"http://127.0.0.1:{plc.server_address[1]}",
        LABELER_LOG_LEVEL="info")
    log = open(work + "/run.log", "w+")
    # The relay is unreachable on purpose (the service keeps retrying it); reports need none.
    service = subprocess.Popen([labeler, "run"], cwd=work, env=environment, stdout=log, stderr=log)
    try:
        port = None
        deadline = time.time() + 60
        while port is None and time.time() < deadline and service.poll() is None:
            with open(work + "/run.log") as f:
                for line in f:
                    if "serving labels" in line and "port=" in line:
                        port = int(line.split("port=")[1].split()[0].strip('"'))
            if port is None:
                time.sleep(0.1)
        if port is None:
            print("labeler run did not start:\n" + open(work + "/run.log").read())
            return 1

        def expect(what, answer, status, error=None):
            got_status, got = answer
            if got_status != status or (error and got.get("error") != error) or (
                    status != 200 and not got.get("message")):
                problems.append(f"{what}: expected {status} {error or ''}, got {got_status} {got}")
            return got

        # Good reports, one per curve.
        accepted = {}
        for reporter, target in [(p256, "did:plc:reportclienttargetpaaaaa"), (k256, "did:plc:reportclienttargetkaaaaa")]:
            got = expect(f"a good {reporter.alg} report", post(port, account(target, reason="spam bot"),
                                                                reporter.token()), 200)
            if got.get("reportedBy") != reporter.did or "id" not in got:
                problems.append(f"a good {reporter.alg} report: answer {got}")
            accepted[got.get("id")] = (reporter.did, target)

        # Bad tokens: each a 401 with the XRPC error body.
        refused = "did:plc:reportclientrefusedaaaaa"
        now = int(time.time())
        for reporter in [p256, k256]:
            for what, token in [
                ("a bad signature", reporter.token(bad_signature=True)),
                ("another audience", reporter.token(aud="did:plc:someotherlabeleraaaaaaaa")),
                ("another method", reporter.token(lxm="com.atproto.moderation.createReportX")),
                ("an expired token", reporter.token(iat=now - 400, exp=now - 120)),
                ("a high-S signature", reporter.token(high_s=True)),
                ("a DER signature", reporter.token(der=True)),
            ]:
                expect(f"{reporter.alg}: {what}", post(port, account(refused), token), 401, "AuthenticationRequired")
        expect("no token", post(port, account(refused), None), 401, "AuthenticationRequired")

        # A reason over the lexicon's 20,000 bytes.
        expect("an oversized reason", post(port, account(refused, reason="x" * 20_001), p256.token()), 413)

        # What the operator sees: exactly the good reports.
        listed = subprocess.run([labeler, "reports", "list", "--json"], cwd=work, env=environment,
                                capture_output=True, text=True, timeout=60)
        if listed.returncode != 0:
            problems.append(f"reports list: exit {listed.returncode}: {listed.stderr.strip()}")
        rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        seen = {row["id"]: (row["reported_by"], row["subject"]) for row in rows}
        if seen != accepted:
            problems.append(f"reports list: {seen}, expected {accepted}")
        for row in rows:
            if row["reason"] != "spam bot" or row["state"] != "open":
                problems.append(f"reports list: {row}")
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            status = service.wait(timeout=60)
        except subprocess.TimeoutExpired:
            service.kill()
            status = "none (killed)"
        if status != 0:
            problems.append(f"labeler run exited with {status}")
        plc.shutdown()

    for problem in problems:
        print(problem)
    if problems:
        print("run log:\n" + open(work + "/run.log").read()[-3000:])
        return 1
    print("python report client: 2 reports filed (ES256, ES256K) and listed; 13 bad tokens refused with 401, "
          "an oversized reason with 413")
    return 0


if __name__ == "__main__":
    sys.exit(main())
