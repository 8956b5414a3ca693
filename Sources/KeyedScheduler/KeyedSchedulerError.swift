/// Why `submit` did not accept an event. The event was not taken: the caller still owns it (of a
/// batch, the events before the first that had to wait may have been taken: see `submit(_:)`).
public enum KeyedSchedulerError: Error, Sendable, Hashable {
    /// The scheduler is shutting down or has stopped.
    case shutDown
    /// Seqs must be submitted in increasing order, above any starting cursor; `previous` is the
    /// highest seq seen so far.
    case seqNotIncreasing(seq: Int64, previous: Int64)
    /// The submitting task was cancelled while it waited for room.
    case cancelled
}
