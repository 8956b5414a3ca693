import ATProto

/// Something that produces the network's events in stream order: a relay, Jetstream, or capture
/// files. The pipeline runs every source the same way.
public protocol EventSource: Sendable {
    /// A name for the cursor this source resumes from; cursors of different sources (a relay's seq,
    /// Jetstream's microseconds) are not comparable, so each is stored under its own name.
    var cursorName: CursorName { get }

    /// Produces events until the source ends (captures) or the task is cancelled (live sources),
    /// calling `deliver` for each in order. `deliver` may suspend: that is backpressure.
    ///
    /// - Parameter resumeAfter: the durable cursor; events at or below it are not delivered again.
    func run(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable (SourceEvent) async throws -> Void
    ) async throws

    /// Like ``run(resumeAfter:deliver:)``, but hands events over in batches (in stream order,
    /// never empty) with each event still in its envelope, for a consumer that opens them on its
    /// own workers: decoding then spreads over the cores, and hand-offs are paid per batch. A live
    /// source does not hold events back to fill a batch.
    ///
    /// The default delivers each event of `run(resumeAfter:deliver:)` alone, already opened.
    func runSealed(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable ([SealedSourceEvent]) async throws -> Void
    ) async throws
}

extension EventSource {
    public func runSealed(
        resumeAfter: @escaping @Sendable () async -> Int64?,
        deliver: @escaping @Sendable ([SealedSourceEvent]) async throws -> Void
    ) async throws {
        try await run(resumeAfter: resumeAfter, deliver: { try await deliver([SealedSourceEvent($0)]) })
    }
}

extension RelaySource: EventSource {
    public var cursorName: CursorName { .relay(host: endpoint.hostHeader) }
}
