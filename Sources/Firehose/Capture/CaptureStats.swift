import ATProto

/// Counts what a capture holds by decoding every message fully: frames, CARs (every block's hash
/// checked) and records. `labeler capture stats` prints it.
public struct CaptureStats: Sendable, Equatable {
    public var messages = 0
    public var commit = 0
    public var identity = 0
    public var account = 0
    public var sync = 0
    public var info = 0
    public var errorFrames = 0
    public var unknown = 0
    public var ops = 0
    public var records = 0
    public var blocks = 0
    public var cidMismatches = 0
    public var errors = 0
    /// The first few decode failures, with the message index, for the report.
    public var firstErrors: [String] = []
    public var seconds = 0.0

    public init() {}

    /// Whether the capture decoded cleanly.
    public var isClean: Bool { errors == 0 && cidMismatches == 0 }

    /// Adds one message's outcome.
    public mutating func add(_ message: [UInt8], decoder: RepoEventDecoder) {
        messages += 1
        let event: RepoEvent
        do {
            event = try decoder.decode(message)
        } catch {
            if case .blockMismatch = error.kind { cidMismatches += 1 } else { errors += 1 }
            if firstErrors.count < 10 { firstErrors.append("message \(messages): \(error)") }
            return
        }
        switch event {
        case .commit(let c):
            commit += 1
            ops += c.ops.count
            records += c.ops.count(where: { $0.record != nil })
            blocks += c.blockCount
        case .sync:
            sync += 1
            blocks += 1
        case .identity: identity += 1
        case .account: account += 1
        case .info: info += 1
        case .error: errorFrames += 1
        case .unknown: unknown += 1
        }
    }

    /// Reads and counts every message of the capture files at `paths`.
    ///
    /// - Parameter progress: told the messages read and the bytes of the files read so far (all
    ///   files together), every 256 messages.
    public static func collect(
        paths: [String], decoder: RepoEventDecoder = RepoEventDecoder(),
        progress: ((_ messages: Int, _ fileBytes: Int) -> Void)? = nil
    ) throws(CaptureError) -> CaptureStats {
        var stats = CaptureStats()
        let clock = ContinuousClock()
        let start = clock.now
        var finishedFiles = 0
        for path in paths {
            let reader = try CaptureReader(path: path, maxMessageSize: decoder.maxMessageSize)
            while let message = try reader.readMessage() {
                stats.add(message, decoder: decoder)
                if let progress, stats.messages % 256 == 0 {
                    progress(stats.messages, finishedFiles + reader.fileBytesRead)
                }
            }
            finishedFiles += reader.fileBytesRead
        }
        let elapsed = clock.now - start
        stats.seconds = elapsed.inSeconds
        return stats
    }

    /// The JSON keys scripts rely on, in a stable order.
    public var jsonFields: [(String, String)] {
        [
            ("messages", "\(messages)"), ("commit", "\(commit)"), ("identity", "\(identity)"),
            ("account", "\(account)"), ("sync", "\(sync)"), ("info", "\(info)"), ("error_frames", "\(errorFrames)"),
            ("unknown", "\(unknown)"), ("ops", "\(ops)"), ("records", "\(records)"), ("blocks", "\(blocks)"),
            ("cid_mismatches", "\(cidMismatches)"), ("errors", "\(errors)"),
            ("seconds", String(format3(seconds))),
        ]
    }

    public var json: String {
        "{" + jsonFields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// Formats a non-negative number with three decimals without Foundation.
func format3(_ value: Double) -> String {
    let millis = Int((value * 1000).rounded())
    let fraction = String(millis % 1000)
    return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
}
