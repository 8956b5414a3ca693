#!/usr/bin/env python3
"""Live ingest benchmark: what `labeler run` costs per event at a steady relay rate.

For each rate it serves a capture as a relay (com.atproto.sync.subscribeRepos over WebSocket, on
127.0.0.1) at that many messages per second, runs `labeler run` against it with the given rules,
the labels stored, and one subscribeLabels subscriber connected, and reports:

  * CPU µs per event: the labeler's utime + stime from /proc over a measuring window, divided by
    the messages sent in that window;
  * peak RSS (VmHWM);
  * event→label latency p50/p99: from the moment the relay sent the message of a record to the
    moment the subscriber received the label of that record (one clock: same process);
  * the same CPU figure for the Python peer (shared/corpus/live_consumer.py) against the same
    relay at the same rate, in the same run, when it is beside the project.

Not a test: it asserts nothing, it prints numbers. Needs websockets and libipld (and atproto for
the peer): scripts/bench-live.sh makes a venv with them.

  bench_live.py --labeler .build-release/release/labeler --capture c.bin --rules rules \
      --rates 500,2000,20000 --seconds 20
"""
import argparse, asyncio, json, os, signal, subprocess, sys, tempfile, time
from urllib.parse import urlsplit, parse_qs

import libipld
import websockets

from capture_file import read_messages

CLK_TCK = os.sysconf('SC_CLK_TCK')


def read_capture(path):
    """The messages of a capture, with the record URIs each creates or updates."""
    out = []
    for msg in read_messages(path):
        uris = []
        try:
            header, body = libipld.decode_dag_cbor_multi(msg)
            if header.get('t') == '#commit':
                for op in body.get('ops') or []:
                    if op.get('action') in ('create', 'update'):
                        uris.append('at://%s/%s' % (body['repo'], op['path']))
        except Exception:
            pass
        out.append((msg, uris))
    return out


def cpu_seconds(pid):
    fields = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def context_switches(pid):
    """Voluntary and involuntary context switches of every thread of `pid` so far (a thread that
    ended is not counted)."""
    total = 0
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            for line in open('/proc/%d/task/%s/status' % (pid, tid)):
                if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def threads(pid):
    """Per thread of `pid`: (name, tid) -> [CPU seconds, context switches] so far."""
    out = {}
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            base = '/proc/%d/task/%s/' % (pid, tid)
            name = open(base + 'comm').read().strip()
            fields = open(base + 'stat').read().rsplit(')', 1)[1].split()
            switches = sum(int(line.split()[1]) for line in open(base + 'status')
                           if line.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')))
            out[(name, tid)] = [(int(fields[11]) + int(fields[12])) / CLK_TCK, switches]
        except FileNotFoundError:
            pass
    return out


def print_threads(before, after, sent):
    """Where the CPU time and the wake-ups went, by thread, per event."""
    rows = []
    for key, (cpu1, cs1) in after.items():
        cpu0, cs0 = before.get(key, [0, 0])
        if cpu1 - cpu0 > 0 or cs1 - cs0 > 0:
            rows.append((cpu1 - cpu0, cs1 - cs0, key))
    for cpu, cs, (name, tid) in sorted(rows, reverse=True):
        print('    thread %-18s %7s  %8.1f µs/event  %6.3f switches/event' % (name, tid, cpu * 1e6 / max(sent, 1), cs / max(sent, 1)))


def peak_rss_kb(pid):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return 0


class Relay:
    """Serves the capture at a fixed rate to every connection; remembers when each record's
    message was sent."""

    def __init__(self, messages, rate):
        self.messages, self.rate = messages, rate
        self.sent_at = {}          # uri -> monotonic send time (first send)
        self.sent = 0              # messages sent, all connections
        self.connections = 0
        self.window = (0.0, float('inf'))

    async def handler(self, ws):
        path = ws.request.path if hasattr(ws, 'request') else ws.path
        if urlsplit(path).path != '/xrpc/com.atproto.sync.subscribeRepos':
            await ws.close(1008, 'unknown path')
            return
        self.connections += 1
        interval = 1.0 / self.rate
        start = time.monotonic()
        i = 0
        try:
            while i < len(self.messages):
                now = time.monotonic()
                due = min(len(self.messages), int((now - start) / interval) + 1)
                while i < due:
                    msg, uris = self.messages[i]
                    await ws.send(msg)
                    t = time.monotonic()
                    for u in uris:
                        self.sent_at.setdefault(u, t)
                    self.sent += 1
                    i += 1
                next_due = start + i * interval
                delay = next_due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await ws.wait_closed()
        except websockets.ConnectionClosed:
            pass


async def subscribe_labels(url, out):
    """The subscriber, in a process of its own so that its clock readings do not wait behind
    the relay's sending: writes `monotonic-time uri` for every label applied, until killed."""
    with open(out, 'w', buffering=1) as f:
        while True:
            try:
                async with websockets.connect(url, max_size=None) as ws:
                    async for frame in ws:
                        now = time.monotonic()
                        header, body = libipld.decode_dag_cbor_multi(frame)
                        if header.get('t') != '#labels':
                            continue
                        for label in body.get('labels', []):
                            if not label.get('neg'):
                                f.write('%.6f %s\n' % (now, label.get('uri')))
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(0.05)


def latencies_from(path, relay):
    """Seconds from the relay's send to the subscriber's receipt, for every label of a record
    the relay sent during the measuring window (CLOCK_MONOTONIC is one clock for both
    processes): the steady state, not the start."""
    start, end = relay.window
    out = []
    for line in open(path):
        received, uri = line.split(' ', 1)
        sent = relay.sent_at.get(uri.strip())
        if sent is not None and start <= sent <= end:
            out.append(float(received) - sent)
    return out


async def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit('gave up waiting for ' + what)
        await asyncio.sleep(0.02)


async def measure(process_pid, relay, warmup, seconds, by_thread=False):
    """CPU seconds and messages sent over the window after `warmup` seconds of traffic."""
    await wait_for(lambda: relay.sent > 0, 60, 'the first message to be sent')
    await asyncio.sleep(warmup)
    th0 = threads(process_pid) if by_thread else None
    cpu0, cs0, sent0, t0 = cpu_seconds(process_pid), context_switches(process_pid), relay.sent, time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, cs1, sent1, t1 = cpu_seconds(process_pid), context_switches(process_pid), relay.sent, time.monotonic()
    if by_thread:
        print_threads(th0, threads(process_pid), sent1 - sent0)
    relay.window = (t0, t1)
    return cpu1 - cpu0, sent1 - sent0, t1 - t0, cs1 - cs0


async def run_labeler(args, messages, rate):
    relay = Relay(messages, rate)
    async with websockets.serve(relay.handler, '127.0.0.1', 0, max_size=None, compression=None) as server:
        port = list(server.sockets)[0].getsockname()[1]
        work = tempfile.mkdtemp(prefix='bench-live-')
        env = dict(os.environ,
                   LABELER_SOURCE_URL='ws://127.0.0.1:%d' % port, LABELER_SERVER_PORT='0',
                   LABELER_RULES_PATH=os.path.abspath(args.rules),
                   LABELER_STORE_PATH=os.path.join(work, 'labels.sqlite'),
                   LABELER_SIGNING_KEY=os.path.join(work, 'signing.key'),
                   LABELER_DID='did:plc:benchlive', LABELER_LOG_LEVEL='info')
        log = open(os.path.join(work, 'log'), 'w+')
        proc = subprocess.Popen([args.labeler, 'run'], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            serving = None
            deadline = time.monotonic() + 60
            while serving is None and time.monotonic() < deadline:
                log.seek(0)
                for line in log.read().splitlines():
                    if 'serving labels' in line and 'port=' in line:
                        serving = int(line.split('port=')[1].split()[0].strip('",'))
                if proc.poll() is not None:
                    raise SystemExit('labeler run exited: ' + open(log.name).read()[-2000:])
                await asyncio.sleep(0.05)
            if serving is None:
                raise SystemExit('labeler run did not serve: ' + open(log.name).read()[-2000:])
            received = os.path.join(work, 'received.txt')
            sub = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--subscribe',
                                    'ws://127.0.0.1:%d/xrpc/com.atproto.label.subscribeLabels' % serving, '--out', received])
            cpu, sent, wall, switches = await measure(proc.pid, relay, args.warmup, args.seconds, args.threads)
            rss = peak_rss_kb(proc.pid)
            sub.kill()
            sub.wait()
            proc.send_signal(signal.SIGTERM)
            status = await asyncio.to_thread(proc.wait, 60)
            lat = sorted(latencies_from(received, relay))
            pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float('nan')
            return dict(rate=rate, events=sent, seconds=round(wall, 2), cpu_us_per_event=cpu * 1e6 / max(sent, 1),
                        switches_per_event=switches / max(sent, 1),
                        cpu_share=cpu / wall, peak_rss_mb=rss / 1024, labels_timed=len(lat),
                        latency_p50_ms=pct(0.50), latency_p99_ms=pct(0.99), exit_status=status)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


async def run_peer(args, messages, rate):
    relay = Relay(messages, rate)
    async with websockets.serve(relay.handler, '127.0.0.1', 0, max_size=None, compression=None) as server:
        port = list(server.sockets)[0].getsockname()[1]
        proc = subprocess.Popen([sys.executable, args.peer, 'ws://127.0.0.1:%d/xrpc/com.atproto.sync.subscribeRepos' % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            cpu, sent, wall, switches = await measure(proc.pid, relay, args.warmup, args.seconds)
            return dict(rate=rate, events=sent, cpu_us_per_event=cpu * 1e6 / max(sent, 1), cpu_share=cpu / wall,
                        switches_per_event=switches / max(sent, 1),
                        peak_rss_mb=peak_rss_kb(proc.pid) / 1024)
        finally:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--labeler')
    ap.add_argument('--capture')
    ap.add_argument('--subscribe', help=argparse.SUPPRESS)
    ap.add_argument('--out', help=argparse.SUPPRESS)
    ap.add_argument('--rules', default='rules')
    ap.add_argument('--rates', default='500,2000,20000')
    ap.add_argument('--seconds', type=float, default=20, help='measuring window per rate')
    ap.add_argument('--warmup', type=float, default=3)
    ap.add_argument('--peer', default='', help='live_consumer.py, for the Python peer figures')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--threads', action='store_true', help="also print the labeler's CPU and switches per thread")
    args = ap.parse_args()
    if args.subscribe:
        asyncio.run(subscribe_labels(args.subscribe, args.out))
        return
    if not args.labeler or not args.capture:
        ap.error('--labeler and --capture are required')
    args.labeler = os.path.abspath(args.labeler)
    messages = read_capture(args.capture)
    rates = [int(r) for r in args.rates.split(',')]
    for rate in rates:
        needed = int(rate * (args.seconds + args.warmup + 2))
        if needed > len(messages):
            raise SystemExit('the capture has %d messages; rate %d for %.0f s needs %d' % (len(messages), rate, args.seconds + args.warmup, needed))
    print('%-8s %-10s %10s %8s %9s %9s %9s %9s %12s %8s' % ('rate', 'who', 'cpu µs/ev', 'cpu %', 'switch/ev', 'rss MB', 'p50 ms', 'p99 ms', 'labels timed', 'events'))
    results = []
    for rate in rates:
        r = asyncio.run(run_labeler(args, messages, rate))
        results.append(dict(r, who='labeler'))
        print('%-8d %-10s %10.1f %7.1f%% %9.2f %9.1f %9.2f %9.2f %12d %8d' % (
            rate, 'labeler', r['cpu_us_per_event'], r['cpu_share'] * 100, r['switches_per_event'], r['peak_rss_mb'], r['latency_p50_ms'],
            r['latency_p99_ms'], r['labels_timed'], r['events']), flush=True)
        if args.peer:
            p = asyncio.run(run_peer(args, messages, rate))
            results.append(dict(p, who='python'))
            print('%-8d %-10s %10.1f %7.1f%% %9.2f %9.1f %9s %9s %12s %8d' % (
                rate, 'python', p['cpu_us_per_event'], p['cpu_share'] * 100, p['switches_per_event'], p['peak_rss_mb'], '', '', '', p['events']), flush=True)
    if args.json:
        print(json.dumps(results))
    stopped_badly = [r for r in results if r.get('exit_status', 0) != 0]
    if stopped_badly:
        raise SystemExit('labeler run did not stop cleanly on SIGTERM: exit status %s' % stopped_badly[0]['exit_status'])


if __name__ == '__main__':
    main()
