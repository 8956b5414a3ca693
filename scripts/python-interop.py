"""An independent client for our label server: the Python `atproto` SDK.

Subscribes to subscribeLabels from seq 0 with the SDK's own client and frame parser, pages through
queryLabels over plain HTTP, and checks every label's signature with the SDK's `verify_signature`
over the label encoded by libipld (DAG-CBOR without `sig`). Exits non-zero on any difference.

    python3 scripts/python-interop.py PORT DID_KEY EXPECTED_STREAM_ROWS EXPECTED_ACTIVE_LABELS
"""
import base64
import json
import sys
import threading
import urllib.request

import libipld
from atproto import FirehoseSubscribeLabelsClient, parse_subscribe_labels_message
from atproto_crypto.verify import verify_signature

port, did_key, expected_rows, expected_active = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
problems = []


def unsigned_bytes(label: dict) -> bytes:
    fields = {k: v for k, v in label.items() if v is not None and k != "sig"}
    if fields.get("neg") is False:
        del fields["neg"]  # omitted when false, as the protocol says
    return libipld.encode_dag_cbor(fields)


def check(label: dict, sig: bytes, where: str) -> None:
    if not verify_signature(did_key, unsigned_bytes(label), sig):
        problems.append(f"{where}: signature does not verify: {label['uri']} {label['val']}")


# subscribeLabels, from the beginning.
seen = []
client = FirehoseSubscribeLabelsClient(params={"cursor": 0}, base_uri=f"ws://127.0.0.1:{port}/xrpc", recv_timeout=30)


def on_message(message) -> None:
    parsed = parse_subscribe_labels_message(message)
    for label in getattr(parsed, "labels", []) or []:
        fields = {"ver": label.ver, "src": label.src, "uri": label.uri, "cid": label.cid, "val": label.val,
                  "neg": label.neg, "cts": label.cts, "exp": label.exp}
        check(fields, label.sig, f"subscribeLabels seq {parsed.seq}")
        seen.append(parsed.seq)
    if len(seen) >= expected_rows:
        client.stop()


timer = threading.Timer(60, client.stop)
timer.start()
client.start(on_message)
timer.cancel()
if len(seen) != expected_rows:
    problems.append(f"subscribeLabels: {len(seen)} labels, expected {expected_rows}")
if seen != sorted(set(seen)):
    problems.append("subscribeLabels: seqs not strictly increasing")

# queryLabels, every page.
active, cursor = 0, None
while True:
    url = f"http://127.0.0.1:{port}/xrpc/com.atproto.label.queryLabels?uriPatterns=*&limit=250"
    if cursor:
        url += "&cursor=" + urllib.request.quote(cursor)
    page = json.load(urllib.request.urlopen(url, timeout=30))
    for label in page["labels"]:
        sig = label["sig"]["$bytes"]
        check(label, base64.b64decode(sig + "=" * (-len(sig) % 4)), "queryLabels")
        active += 1
    cursor = page.get("cursor")
    if not cursor or not page["labels"]:
        break
if active != expected_active:
    problems.append(f"queryLabels: {active} labels, expected {expected_active}")

for problem in problems[:20]:
    print(problem)
print(f"python atproto client: {len(seen)} streamed and {active} queried labels, "
      f"{'all signatures verified' if not problems else str(len(problems)) + ' problems'}")
sys.exit(1 if problems else 0)
