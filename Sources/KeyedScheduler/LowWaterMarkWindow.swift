/// Tracks which submitted seqs are unfinished, to answer "the highest seq such that every
/// submitted seq at or below it has finished".
///
/// Seqs arrive in increasing order, so the window is a FIFO of every submitted seq from the
/// oldest unfinished one on, each with a done flag. A seq is found in O(1) by its ticket (its
/// absolute position since the window was created); finishing the oldest entry pops every done
/// entry behind it. Each seq is appended and popped once: amortised O(1) per event, no scans.
///
/// Memory is one entry per event submitted since the oldest unfinished one, so a handler that
/// never returns keeps the window growing; per-event timeouts bound that in practice.
@usableFromInline
struct LowWaterMarkWindow {
    @usableFromInline
    struct Entry {
        @usableFromInline var seq: Int64
        @usableFromInline var done: Bool

        @inlinable init(seq: Int64) {
            self.seq = seq
            done = false
        }
    }

    @usableFromInline var entries = RingBuffer<Entry>()
    /// The ticket of `entries.first`.
    @usableFromInline var firstTicket = 0
    /// The highest seq appended so far (or the starting cursor).
    @usableFromInline var highestSeq: Int64?
    /// The highest seq with every seq at or below it done; `nil` until one is.
    @usableFromInline var mark: Int64?

    /// - Parameter startingAfter: a cursor whose seqs (and all below) count as done already.
    @usableFromInline
    init(startingAfter: Int64?) {
        mark = startingAfter
        highestSeq = startingAfter
    }

    /// Records a newly submitted seq, which must be above every earlier one, and returns the
    /// ticket that `finish` takes.
    @inlinable
    mutating func append(_ seq: Int64) -> Int {
        precondition(highestSeq.map { seq > $0 } ?? true, "seqs must be submitted in increasing order")
        entries.append(Entry(seq: seq))
        highestSeq = seq
        return firstTicket + entries.count - 1
    }

    /// Marks the seq of `ticket` done; returns the new mark when it moved forward.
    @inlinable
    mutating func finish(ticket: Int) -> Int64? {
        let position = ticket - firstTicket
        precondition(position >= 0 && position < entries.count, "unknown ticket")
        precondition(!entries[position].done, "seq finished twice")
        entries[position].done = true
        guard position == 0 else { return nil }
        while let entry = entries.first, entry.done {
            mark = entry.seq
            entries.popFirst()
            firstTicket += 1
        }
        return mark
    }
}
