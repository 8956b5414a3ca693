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
        buffer.withUnsafeReadableBytes { bytes -> Int64? in
            let n = prefix.count
            guard bytes.count > n + 1 else { return nil }
            let same = prefix.withUnsafeBytes { memcmp($0.baseAddress!, bytes.baseAddress!, n) == 0 }
            guard same else { return nil }
            let head = bytes[n]
            guard head >> 5 == 0 else { return nil }
            let info = Int(head & 0x1f)
            switch info {
            case 0..<24: return Int64(info)
            case 24...27:
                let length = 1 << (info - 24)
                guard bytes.count > n + length else { return nil }
                var seq: UInt64 = 0
                for i in (n + 1)...(n + length) { seq = seq << 8 | UInt64(bytes[i]) }
                return Int64(seq)
            default: return nil
            }
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

/// Delivery latencies: 0.1 ms buckets below 100 ms, 1 ms buckets below 10 s, and one above.
/// Each client keeps its own (about 44 KB) and merges it at the end.
final class LatencyHistogram: Sendable {
    static let fine = 1000
    static let coarse = 9900
    static let buckets = fine + coarse + 1

    static func bucket(_ nanoseconds: UInt64) -> Int {
        let tenths = nanoseconds / 100_000
        if tenths < UInt64(fine) { return Int(tenths) }
        let ms = nanoseconds / 1_000_000
        return fine + Int(min(ms - 100, UInt64(coarse)))
    }

    /// The upper edge of a bucket, in milliseconds.
    static func upperEdge(_ bucket: Int) -> Double {
        bucket < fine ? Double(bucket + 1) / 10 : Double(bucket - fine + 101)
    }

    struct Buckets {
        var counts = [UInt32](repeating: 0, count: LatencyHistogram.buckets)
        var max: UInt64 = 0

        mutating func record(nanoseconds: UInt64) {
            counts[LatencyHistogram.bucket(nanoseconds)] += 1
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
                    if seen >= target { return min(LatencyHistogram.upperEdge(i), Double(t.max) / 1e6) }
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
