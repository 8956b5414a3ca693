#!/usr/bin/env python3
"""The Python peer of verify-bench (BENCHMARKS.md, "Verifying commits"): the same signed capture
decoded with libipld and its commit signatures checked with the atproto SDK, on one task (run it
under `taskset -c 0`). Each figure is the best of ROUNDS passes over the messages held in memory
(the rounds interleaved: every variant once per round):

  decode                 decode_dag_cbor_multi(frame) (header + body), decode_car(blocks) (every
                         block decoded), the commit block found by the body's `commit` CID
  decode + CIDs          and every CAR block's CID checked against sha-256 of its bytes (own walk
                         of the CAR sections, hashlib)
  decode + verify (SDK)  and the commit without `sig` re-encoded with encode_dag_cbor, checked with
                         atproto_crypto.verify.verify_signature(did_key, unsigned, sig), which
                         parses the did:key (base58, point decompression) on every call
  decode + verify        the same check with each account's did:key parsed once (parse_did_key),
                         then the SDK's algorithm class: Secp256k1/P256().verify_signature(key, ...)
  decode + CIDs + verify both checks: what verify-bench's decode + verify does, less the MST
                         inversion proof and the did/rev checks beyond `did`
  signature checks alone the SDK algorithm's verify_signature(key, unsigned, sig) over inputs
                         decoded and re-encoded beforehand (the curves' cost: `cryptography`,
                         that is OpenSSL); then the same by curve, in µs per check

The did:key of every account comes from KEYS.json ({did: did:key}, as `verify-bench --keys`
writes it): keys are known up front, as in verify-bench's timed passes (keys cached). A first
untimed pass verifies every commit; any commit that does not verify (or any CID that does not
match) stops the script with exit status 1, so the figures are of checks that all passed.

Usage: python3 scripts/bench_verify_peer.py CAPTURE KEYS.json [--rounds 3]
Needs libipld and atproto (scripts/bench-verify.sh installs them in .build/bench-venv).
"""
import argparse
import hashlib
import json
import sys
import time

import libipld
from atproto_crypto.algs import ALGORITHM_TO_CLASS
from atproto_crypto.did import parse_did_key
from atproto_crypto.verify import verify_signature

from capture_file import read_messages, uvarint


def check_cids(car):
    """Checks that every block of a CAR v1 is sha-256 of its bytes as its CID (v1) says; returns
    the number of blocks."""
    view = memoryview(car)
    length, i = uvarint(car, 0)
    i += length  # header
    n = len(car)
    blocks = 0
    while i < n:
        length, i = uvarint(car, i)
        end = i + length
        # CIDv1: version, codec, multihash code, digest length (varints), then the digest.
        version, j = uvarint(car, i)
        _, j = uvarint(car, j)  # codec
        code, j = uvarint(car, j)
        size, j = uvarint(car, j)
        if version != 1 or code != 0x12 or size != 32:
            raise ValueError('unexpected CID (version %d, hash 0x%x, %d bytes)' % (version, code, size))
        if hashlib.sha256(view[j + size:end]).digest() != car[j:j + size]:
            raise ValueError('block does not match its CID')
        i = end
        blocks += 1
    return blocks


def decode(message):
    """The decoded commit of a #commit frame, with the frame's body; None for other frames."""
    header, body = libipld.decode_dag_cbor_multi(message)
    if header.get('op') != 1 or header.get('t') != '#commit':
        return None
    _, blocks = libipld.decode_car(body['blocks'])
    commit = blocks.get(body['commit'])
    if commit is None:
        raise ValueError('seq %s: the commit block is not in the CAR' % body.get('seq'))
    return body, commit


def unsigned(body, commit):
    """The bytes the signature covers: the commit without `sig`, as DAG-CBOR, and the signature."""
    if commit.get('did') != body['repo']:
        raise ValueError('seq %s: commit did %r, frame repo %r' % (body['seq'], commit.get('did'), body['repo']))
    sig = commit['sig']
    rest = {k: v for k, v in commit.items() if k != 'sig'}
    return libipld.encode_dag_cbor(rest), sig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('capture')
    ap.add_argument('keys')
    ap.add_argument('--rounds', type=int, default=3)
    a = ap.parse_args()

    messages = read_messages(a.capture)
    with open(a.keys) as f:
        did_keys = json.load(f)
    parsed = {}
    for did, did_key in did_keys.items():
        key = parse_did_key(did_key)
        parsed[did] = (ALGORITHM_TO_CLASS[key.jwt_alg](), key.key_bytes)
    total_bytes = sum(map(len, messages))

    # First pass, untimed: every commit must verify and every block match its CID.
    commits = verified = failures = blocks = 0
    algs = {}
    for message in messages:
        decoded = decode(message)
        if decoded is None:
            continue
        body, commit = decoded
        commits += 1
        try:
            blocks += check_cids(body['blocks'])
        except ValueError as e:
            print('FAILED: seq %s repo %s: %s' % (body['seq'], body['repo'], e), file=sys.stderr)
            return 1
        data, sig = unsigned(body, commit)
        did_key = did_keys.get(body['repo'])
        if did_key is not None and verify_signature(did_key, data, sig):
            verified += 1
            alg = parse_did_key(did_key).jwt_alg
            algs[alg] = algs.get(alg, 0) + 1
        else:
            failures += 1
            if failures <= 5:
                print('NOT VERIFIED: seq %s repo %s%s' % (body['seq'], body['repo'],
                                                        '' if did_key else ' (no key in %s)' % a.keys))
    print('input: %d messages, %d #commit, %d bytes, %d CAR blocks, %d accounts\' keys; best of %d rounds'
          % (len(messages), commits, total_bytes, blocks, len(did_keys), a.rounds))
    print('first pass: %d verified (%s), %d not verified, every block matches its CID'
          % (verified, ', '.join('%s %d' % kv for kv in sorted(algs.items())), failures))
    if failures or commits == 0:
        print('FAILED: every commit must verify before the timing means anything', file=sys.stderr)
        return 1

    # The signature checks alone, on inputs prepared beforehand.
    prepared = []
    for m in messages:
        d = decode(m)
        if d is not None:
            data, sig = unsigned(*d)
            prepared.append(parsed[d[0]['repo']] + (data, sig))

    def f_signatures():
        ok = 0
        for alg, key, data, sig in prepared:
            ok += alg.verify_signature(key, data, sig)
        return ok

    def f_decode():
        for m in messages:
            decode(m)

    def f_cids():
        for m in messages:
            d = decode(m)
            if d is not None:
                check_cids(d[0]['blocks'])

    def f_verify_sdk():
        ok = 0
        for m in messages:
            d = decode(m)
            if d is not None:
                data, sig = unsigned(*d)
                ok += verify_signature(did_keys[d[0]['repo']], data, sig)
        return ok

    def f_verify():
        ok = 0
        for m in messages:
            d = decode(m)
            if d is not None:
                data, sig = unsigned(*d)
                alg, key = parsed[d[0]['repo']]
                ok += alg.verify_signature(key, data, sig)
        return ok

    def f_cids_verify():
        ok = 0
        for m in messages:
            d = decode(m)
            if d is not None:
                check_cids(d[0]['blocks'])
                data, sig = unsigned(*d)
                alg, key = parsed[d[0]['repo']]
                ok += alg.verify_signature(key, data, sig)
        return ok

    variants = [
        ('decode', f_decode, False),
        ('decode + CIDs', f_cids, False),
        ('decode + verify (SDK, did:key)', f_verify_sdk, True),
        ('decode + verify (keys parsed)', f_verify, True),
        ('decode + CIDs + verify', f_cids_verify, True),
        ('signature checks alone', f_signatures, True),
    ]
    # Rounds interleaved (every variant once per round), so that a change in the machine's load
    # falls on all of them rather than on the last ones.
    seconds = {name: float('inf') for name, _, _ in variants}
    for _ in range(max(1, a.rounds)):
        for name, fn, verifies in variants:
            start = time.perf_counter()
            ok = fn()
            seconds[name] = min(seconds[name], time.perf_counter() - start)
            if verifies and ok != commits:
                print('FAILED: %s: %d of %d commits verified' % (name, ok, commits), file=sys.stderr)
                return 1
    rates = [(name, commits / seconds[name]) for name, _, _ in variants]
    for name, rate in rates:
        print('%-31s %8.0f commits/s %8.1f µs per commit' % (name, rate, 1e6 / rate))
    r = dict(rates)
    us = lambda name: 1e6 / r[name]  # noqa: E731
    print('verification: %.0f µs per commit with the SDK\'s verify_signature(did_key, ...), %.0f with keys parsed '
          'once, %.0f over decode + CIDs' % (us('decode + verify (SDK, did:key)') - us('decode'),
                                             us('decode + verify (keys parsed)') - us('decode'),
                                             us('decode + CIDs + verify') - us('decode + CIDs')))
    # One check by curve: the same prepared inputs, split by the key's algorithm.
    per_curve = []
    for name in sorted({alg.NAME for alg, _, _, _ in prepared}):
        inputs = [p for p in prepared if p[0].NAME == name]
        best = float('inf')
        for _ in range(max(1, a.rounds)):
            start = time.perf_counter()
            ok = sum(alg.verify_signature(key, data, sig) for alg, key, data, sig in inputs)
            best = min(best, time.perf_counter() - start)
            if ok != len(inputs):
                print('FAILED: %s: %d of %d signatures verified' % (name, ok, len(inputs)), file=sys.stderr)
                return 1
        per_curve.append('%s %.0f µs (%d)' % (name, best / len(inputs) * 1e6, len(inputs)))
    print('one signature check: ' + ', '.join(per_curve))
    return 0


if __name__ == '__main__':
    sys.exit(main())
