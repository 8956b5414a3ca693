import ATProto

/// What a source hands to the pipeline, in stream order.
public enum SourceEvent: Sendable {
    /// A decoded event with a seq. `raw` is the message exactly as received (for captures).
    case event(seq: Int64, RepoEvent, raw: [UInt8])
    /// A message whose envelope was fine but whose content is rejected (a block that does not match
    /// its CID, an undecodable record): its seq is consumed, nothing is processed.
    case rejected(seq: Int64, FrameError, raw: [UInt8])
    /// The source's sequence restarted: the relay said our cursor is in its future (its sequence was
    /// reset, or this is another relay). Events from here on have seqs unrelated to earlier ones;
    /// `previousCursor` is where we were, so the gap can be recorded.
    case reset(previousCursor: Int64?)

    public var seq: Int64? {
        switch self {
        case .event(let seq, _, _), .rejected(let seq, _, _): seq
        case .reset: nil
        }
    }
}
