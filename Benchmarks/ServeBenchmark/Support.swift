import ATProto
import Foundation
import NIOCore
import Synchronization

/// The seq of a `#labels` frame, read without decoding the label.
enum FrameSeq {
    /// `{op: 1, t: "#labels"}` in canonical DAG-CBOR, then the body map's head and its first key,
    /// `seq` (keys sort length first, so `seq` precedes `labels`).
    static let prefix: [UInt8] =
        [0xa2, 0x61, 0x74, 0x67] + Array("#labels".utf8) + [0x62] + Array("op".utf8) + [0x01, 0xa2, 0x63]
        + Array("seq".utf8)

    struct Malformed: Error {}

    static func read(_ bytes: [UInt8], verifyFully: Bool) throws -> Int64 {
        guard bytes.count > prefix.count + 1, bytes[0..<prefix.count].elementsEqual(prefix) else { throw Malformed() }
        let i = prefix.count
        let head = bytes[i]
        guard head >> 5 == 0 else { throw Malformed() }
        let info = Int(head & 0x1f)
        var seq: UInt64
        switch info {
        case 0..<24: seq = UInt64(info)
        case 24...27:
            let length = 1 << (info - 24)
            guard bytes.count > i + length else { throw Malformed() }
            seq = 0
            for b in bytes[(i + 1)...(i + length)] { seq = seq << 8 | UInt64(b) }
        default: throw Malformed()
        }
        if verifyFully {
            let (_, body) = try FrameCodec.split(bytes[...])
            guard body["seq"]?.intValue == Int64(seq), let label = body["labels"]?.arrayValue?.first else {
                throw Malformed()
            }
            _ = try Label(cbor: label)
        }
        return Int64(seq)
    }

    /// The seq of a frame payload held in a buffer (nil when it is not a `#labels` frame).
    static func read(_ buffer: ByteBuffer) -> Int64? {
        let view = buffer.readableBytesView
        guard view.count > prefix.count + 1, view.prefix(prefix.count).elementsEqual(prefix) else { return nil }
        let start = view.startIndex + prefix.count
        let head = view[start]
        guard head >> 5 == 0 else { return nil }
        let info = Int(head & 0x1f)
        switch info {
        case 0..<24: return Int64(info)
        case 24...27:
            let length = 1 << (info - 24)
            guard view.count > prefix.count + length else { return nil }
            var seq: UInt64 = 0
            for b in view[(start + 1)...(start + length)] { seq = seq << 8 | UInt64(b) }
            return Int64(seq)
        default: return nil
        }
    }
}

/// Submission times by seq, written by the submitter before `submit` and read by the clients
/// after the label arrives (the commit and the network between them order the two).
final class Timestamps: @unchecked Sendable {
    private let times: UnsafeMutableBufferPointer<UInt64>

    init(count: Int) {
        times = .allocate(capacity: count)
        times.initialize(repeating: 0)
    }

    deinit { times.deallocate() }

    subscript(seq: Int) -> UInt64 {
        get { times[seq] }
        set { times[seq] = newValue }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// Delivery latencies in 0.1 ms buckets up to 10 s (and one bucket above).
final class LatencyHistogram: Sendable {
    static let bucketNanoseconds: UInt64 = 100_000
    static let buckets = 100_001

    struct Buckets {
        var counts = [UInt32](repeating: 0, count: LatencyHistogram.buckets)
        var max: UInt64 = 0

        mutating func record(nanoseconds: UInt64) {
            counts[Int(min(nanoseconds / LatencyHistogram.bucketNanoseconds, UInt64(LatencyHistogram.buckets - 1)))] += 1
            max = Swift.max(max, nanoseconds)
        }
    }

    private let total = Mutex((counts: [UInt64](repeating: 0, count: LatencyHistogram.buckets), max: UInt64(0)))

    func merge(_ local: Buckets) {
        total.withLock { t in
            for i in 0..<local.counts.count where local.counts[i] > 0 { t.counts[i] += UInt64(local.counts[i]) }
            t.max = max(t.max, local.max)
        }
    }

    /// Milliseconds; a percentile is the upper edge of its bucket.
    func summary() -> (count: UInt64, p50: Double, p99: Double, max: Double) {
        total.withLock { t in
            let count = t.counts.reduce(0, +)
            func percentile(_ p: Double) -> Double {
                let target = UInt64((Double(count) * p).rounded(.up))
                var seen: UInt64 = 0
                for (i, c) in t.counts.enumerated() {
                    seen += c
                    if seen >= target { return Double(UInt64(i + 1) * LatencyHistogram.bucketNanoseconds) / 1e6 }
                }
                return Double(t.max) / 1e6
            }
            return (count, percentile(0.5), percentile(0.99), Double(t.max) / 1e6)
        }
    }
}

enum Memory {
    /// A field of /proc/self/status in MB (Linux).
    static func status(_ field: String) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? -1
            return kb / 1024
        }
        return -1
    }

    static func residentMB() -> Int { status("VmRSS") }
    static func peakResidentMB() -> Int { status("VmHWM") }
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
