/// A `subscribeRepos` message with what routing it needs — its seq and its account — read
/// without decoding it; ``open()`` decodes it.
///
/// Reading the envelope costs a small fraction of a decode (the header, then the body's map keys
/// up to `seq` and the DID, skipping other values without building them), so a source can route
/// messages in stream order on one core and leave the decoding (CAR, block hashes, records) to
/// the workers that run them, on every core.
///
/// ```swift
/// guard let envelope = decoder.envelope(of: message) else { ... }   // no seq: decode it now
/// scheduler.submit(key: envelope.did ?? "", seq: envelope.seq, payload: envelope)
/// // later, on a worker:
/// let event = try envelope.open()   // exactly `decoder.decode(message)`
/// ```
///
/// An envelope is one reference, so queues move it around for the price of one retain.
public struct RepoEventEnvelope: Sendable {
    let storage: Storage

    final class Storage: Sendable {
        let seq: Int64
        let did: String?
        let content: Content

        init(seq: Int64, did: String?, content: Content) {
            self.seq = seq
            self.did = did
            self.content = content
        }
    }

    enum Content: Sendable {
        /// The message, still to decode.
        case message(ArraySlice<UInt8>, RepoEventDecoder)
        /// An event decoded already.
        case decoded(RepoEvent)
    }

    /// The message's `seq`. For a message that decodes, the event's seq.
    public var seq: Int64 { storage.seq }
    /// The account (`repo` of a `#commit`, `did` of the others), `nil` when the body has none.
    /// For a message that decodes, the event's `did`.
    public var did: String? { storage.did }
    var content: Content { storage.content }

    init(seq: Int64, did: String?, message: ArraySlice<UInt8>, decoder: RepoEventDecoder) {
        storage = Storage(seq: seq, did: did, content: .message(message, decoder))
    }

    /// An event decoded already (by a source whose format needs no second step, like
    /// Jetstream's JSON, or that decodes in order anyway): ``open()`` returns it.
    /// - Precondition: the event has a seq.
    public init(decoded event: RepoEvent) {
        guard let seq = event.seq else { preconditionFailure("an envelope needs an event with a seq") }
        storage = Storage(seq: seq, did: event.did?.rawValue, content: .decoded(event))
    }

    /// The message as received, when the envelope holds one.
    public var message: ArraySlice<UInt8>? {
        if case .message(let message, _) = content { message } else { nil }
    }

    /// The event: `decoder.decode(message)`, with every check that implies (block hashes,
    /// the commit object, records).
    ///
    /// - Throws: what `decode` throws: for ``FrameError/rejectsOnlyEvent`` errors the event is
    ///   to be rejected; others mean the message is malformed (a relay connection sending it would
    ///   be dropped). Also a `badField` error if the decoded seq or DID is not the envelope's,
    ///   which a well-formed message cannot cause.
    public func open() throws(FrameError) -> RepoEvent {
        switch content {
        case .decoded(let event):
            return event
        case .message(let message, let decoder):
            let event = try decoder.decode(message)
            guard event.seq == seq else {
                throw FrameError(.badField(type: "envelope", field: "seq", reason: "differs from the decoded event's"))
            }
            guard event.did?.rawValue == did else {
                throw FrameError(.badField(type: "envelope", field: "did", reason: "differs from the decoded event's"))
            }
            return event
        }
    }
}

extension RepoEventDecoder {
    /// The envelope of `message`: its seq and account, read without decoding it, or `nil` when
    /// they cannot be read — the message is too large, its header is not `{op: 1, t}`, or its
    /// body has no integer `seq` (`#info`, error frames and malformed messages; decode those).
    ///
    /// Only what routing needs is checked; ``RepoEventEnvelope/open()`` checks the rest.
    ///
    /// - Parameter wholeFrame: also step over the rest of the body and require that nothing
    ///   follows it, so that a truncated or garbled message has no envelope. A live source uses
    ///   this: a message broken in transit must drop the connection (and be fetched again), not
    ///   reach a worker. It costs a walk over the item heads, not a decode.
    public func envelope(of message: [UInt8], wholeFrame: Bool = false) -> RepoEventEnvelope? {
        envelope(of: message[...], wholeFrame: wholeFrame)
    }

    public func envelope(of message: ArraySlice<UInt8>, wholeFrame: Bool = false) -> RepoEventEnvelope? {
        guard message.count <= maxMessageSize else { return nil }
        let limits = cbor.limits
        let found = message.withUnsafeBytes { raw -> (seq: Int64, did: String?)? in
            var reader = Reader(base: message, bytes: raw, limits: limits)
            return try? reader.routing(wholeFrame: wholeFrame)
        }
        guard let found else { return nil }
        return RepoEventEnvelope(seq: found.seq, did: found.did, message: message, decoder: self)
    }
}

extension Reader {
    /// Reads a frame's header and as much of its body as needed for `seq` and the DID (with
    /// `wholeFrame`, all of it, and nothing may follow).
    mutating func routing(wholeFrame: Bool = false) throws(CBORError) -> (seq: Int64, did: String?)? {
        let (headerMajor, headerCount, _) = try head()
        guard headerMajor == 5 else { return nil }
        var op: Int64? = nil
        var isCommit = false
        var type = false
        for _ in 0..<headerCount {
            let key = try keyBytes()
            if Self.equal(key, "op") {
                op = try integer()
            } else if Self.equal(key, "t") {
                guard let t = try textBytes() else { return nil }
                isCommit = Self.equal(t, "#commit")
                // Only the event types a consumer routes; others (retired or future ones) are
                // decoded where they arrive, and ignored there.
                guard isCommit || Self.equal(t, "#sync") || Self.equal(t, "#identity") || Self.equal(t, "#account")
                else {
                    return nil
                }
                type = true
            } else {
                try skip(depth: 1)
            }
        }
        guard op == 1, type else { return nil }
        let didKey: StaticString = isCommit ? "repo" : "did"

        let (bodyMajor, bodyCount, _) = try head()
        guard bodyMajor == 5 else { return nil }
        var seq: Int64? = nil
        var did: String? = nil
        for _ in 0..<bodyCount {
            let key = try keyBytes()
            if Self.equal(key, "seq") {
                seq = try integer()
            } else if Self.equal(key, didKey) {
                guard let text = try textBytes() else { return nil }
                did = String(decoding: text, as: UTF8.self)
            } else {
                try skip(depth: 1)
            }
            if seq != nil && did != nil && !wholeFrame { break }
        }
        guard let seq else { return nil }
        if wholeFrame && offset != bytes.count { throw fail(.trailingBytes) }
        return (seq, did)
    }

    /// A map key's bytes.
    mutating func keyBytes() throws(CBORError) -> UnsafeRawBufferPointer {
        guard let key = try textBytes() else { throw fail(.mapKeyNotText) }
        return key
    }

    /// A text string's bytes (not checked as UTF-8), or `nil` if the item is something else (skipped).
    mutating func textBytes() throws(CBORError) -> UnsafeRawBufferPointer? {
        let (major, length, start) = try head()
        guard major == 3 else {
            offset = start
            try skip(depth: 1)
            return nil
        }
        let begin = try payload(length, start: start)
        return UnsafeRawBufferPointer(rebasing: bytes[begin..<offset])
    }

    /// An integer, or `nil` if the item is something else (skipped).
    mutating func integer() throws(CBORError) -> Int64? {
        let (major, argument, start) = try head()
        switch major {
        case 0 where argument <= UInt64(Int64.max): return Int64(argument)
        case 1 where argument <= UInt64(Int64.max): return -1 - Int64(argument)
        default:
            offset = start
            try skip(depth: 1)
            return nil
        }
    }

    /// Steps over one item, checking only what stepping needs (lengths within the input, depth
    /// and item limits).
    mutating func skip(depth: Int) throws(CBORError) {
        items += 1
        guard items <= maxItems else { throw fail(.tooManyItems(limit: maxItems)) }
        let (major, argument, start) = try head()
        switch major {
        case 2, 3:
            _ = try payload(argument, start: start)
        case 4, 5:
            let perEntry: UInt64 = major == 4 ? 1 : 2
            guard argument <= UInt64(remaining) / perEntry else { throw fail(.lengthExceedsInput, at: start) }
            guard depth < maxDepth else { throw fail(.nestingTooDeep(limit: maxDepth), at: start) }
            for _ in 0..<(Int(argument) * Int(perEntry)) { try skip(depth: depth + 1) }
        case 6:
            guard depth < maxDepth else { throw fail(.nestingTooDeep(limit: maxDepth), at: start) }
            try skip(depth: depth + 1)
        default:  // 0, 1, 7: the head is the whole item
            break
        }
    }

    static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount
            && (bytes.count == 0 || memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
