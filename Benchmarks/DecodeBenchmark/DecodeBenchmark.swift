import ATProto
import Firehose
import SyntheticFirehose

/// Decode throughput over a capture, on whatever cores it is given (run it under `taskset -c 0`
/// for the one-core figure). First what the ingest pipeline's source does alone:
///   envelope seq and account of every message, read without decoding (RepoEventDecoder.envelope)
/// then three levels, each a superset of the previous:
///   frames   header + body DAG-CBOR of every message
///   records  + the commit's CAR, commit-object checks and every created/updated record decoded
///   verified + sha-256 of every CAR block compared with its CID
/// Usage: decode-bench (--capture FILE... | --synthetic N) [--rounds R]
@main
struct DecodeBenchmark {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        var rounds = 3
        var captures: [String] = []
        var synthetic = 0
        while !args.isEmpty {
            let arg = args.removeFirst()
            switch arg {
            case "--rounds": rounds = Int(args.removeFirst()) ?? 3
            case "--synthetic": synthetic = Int(args.removeFirst()) ?? 0
            case "--capture": captures.append(args.removeFirst())
            default: captures.append(arg)
            }
        }
        var messages: [[UInt8]] = []
        if synthetic > 0 {
            var generator = SyntheticFirehose(seed: 1)
            messages = generator.messages(synthetic)
        }
        for path in captures {
            let reader = try CaptureReader(path: path)
            while let m = try reader.readMessage() { messages.append(m) }
        }
        guard !messages.isEmpty else {
            print("usage: decode-bench (--capture FILE... | --synthetic N) [--rounds R]")
            return
        }
        let bytes = messages.reduce(0) { $0 + $1.count }
        print("input: \(messages.count) messages, \(bytes) bytes, best of \(rounds) rounds")

        let plain = RepoEventDecoder(verifyBlocks: false)
        let verified = RepoEventDecoder(verifyBlocks: true)
        let cbor = CBORDecoder()
        report("envelope", messages, bytes, rounds) { m in
            verified.envelope(of: m) != nil
        }
        report("frames", messages, bytes, rounds) { m in
            guard (try? FrameCodec.split(m[...], decoder: cbor)) != nil else { return false }
            return true
        }
        report("records", messages, bytes, rounds) { m in
            (try? plain.decode(m)) != nil
        }
        report("verified", messages, bytes, rounds) { m in
            (try? verified.decode(m)) != nil
        }
    }

    static func report(_ name: String, _ messages: [[UInt8]], _ bytes: Int, _ rounds: Int, _ body: ([UInt8]) -> Bool) {
        let clock = ContinuousClock()
        var best = Duration.seconds(1_000_000)
        var failures = 0
        for _ in 0..<max(1, rounds) {
            failures = 0
            let start = clock.now
            for m in messages where !body(m) { failures += 1 }
            best = min(best, clock.now - start)
        }
        let seconds = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
        let rate = Double(messages.count) / seconds
        let mbps = Double(bytes) / seconds / 1e6
        print(
            pad(name, 10) + pad(String(Int(rate)), 10, right: true) + " msg/s "
                + pad(String(Int(mbps * 10) / 10) + "." + String(Int(mbps * 10) % 10), 8, right: true)
                + " MB/s  " + "\(failures) failures")
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
}
