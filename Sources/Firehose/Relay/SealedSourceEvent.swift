import ATProto

/// What a source hands to a consumer of ``EventSource/runSealed(resumeAfter:deliver:)``: a
/// ``SourceEvent`` whose event may still be in its envelope. The consumer opens it
/// (``RepoEventEnvelope/open()``) where and when it likes; an envelope that does not open is a
/// rejected event: its seq is consumed, nothing is processed.
public enum SealedSourceEvent: Sendable {
    /// An event with a seq (the envelope's), routed but perhaps not decoded yet.
    case event(RepoEventEnvelope)
    /// A message the source rejected already (see ``SourceEvent/rejected(seq:_:raw:)``).
    case rejected(seq: Int64, FrameError, raw: [UInt8])
    /// The source's sequence restarted (see ``SourceEvent/reset(previousCursor:)``).
    case reset(previousCursor: Int64?)

    /// A source event as a sealed one; its event is decoded already.
    public init(_ event: SourceEvent) {
        switch event {
        case .event(_, let event, _): self = .event(RepoEventEnvelope(decoded: event))
        case .rejected(let seq, let error, let raw): self = .rejected(seq: seq, error, raw: raw)
        case .reset(let previous): self = .reset(previousCursor: previous)
        }
    }

    public var seq: Int64? {
        switch self {
        case .event(let envelope): envelope.seq
        case .rejected(let seq, _, _): seq
        case .reset: nil
        }
    }
}
