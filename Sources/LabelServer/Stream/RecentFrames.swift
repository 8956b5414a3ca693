import NIOCore

/// The most recently committed label frames, encoded once and shared by every live subscriber.
///
/// Without it each commit would cost one store read and one encoding per subscriber; with it a
/// commit costs one read and one encoding in all, and a subscriber that is close to the head takes
/// its frames from here. It mirrors the store's tail: it covers the seq range
/// `(coveredFrom, head]` completely, and a frame whose label was changed again later is hidden, as
/// the store deletes the older row, so a reader gets the same frames from here as from the store.
/// A subscriber whose position is below `coveredFrom` reads the store instead.
struct RecentFrames: Sendable {
    private struct Entry: Sendable {
        let frame: LabelFrame
        var superseded = false
    }

    /// The frames of one round of wake-ups joined into one buffer, for every subscriber that was
    /// exactly at the previous round's head: the same bytes go to all of them.
    struct Segment: Sendable {
        /// The seq the subscriber must be at.
        let after: Int64
        /// The seq the subscriber is at once the segment is written.
        let through: Int64
        let bytes: ByteBuffer
        let count: Int
    }

    let capacity: Int
    /// The segment of the latest round.
    private(set) var segment: Segment?
    /// Circular storage; `start` is the oldest entry's index once the storage is full.
    private var storage: [Entry] = []
    private var start = 0
    /// The seq of the visible frame of each label key held.
    private var latest: [String: Int64] = [:]
    /// Every row with a seq in `(coveredFrom, head]` is here.
    private(set) var coveredFrom: Int64
    private(set) var head: Int64

    /// An empty cache positioned at `head` (the store's last seq when serving starts).
    init(capacity: Int, head: Int64) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.coveredFrom = head
        self.head = head
        storage.reserveCapacity(capacity)
    }

    var count: Int { storage.count }

    private func index(_ offset: Int) -> Int { (start + offset) % storage.count }

    /// The offset of the first entry with a seq above `seq`.
    private func firstOffset(after seq: Int64) -> Int {
        var low = 0
        var high = storage.count
        while low < high {
            let mid = (low + high) / 2
            if storage[index(mid)].frame.seq <= seq { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Appends frames read from the store after `head`, in seq order, evicting the oldest.
    mutating func append(_ frames: [LabelFrame]) {
        for frame in frames {
            precondition(frame.seq > head, "frames must arrive in seq order")
            if let previous = latest[frame.key] {
                let offset = firstOffset(after: previous - 1)
                if offset < storage.count, storage[index(offset)].frame.seq == previous {
                    storage[index(offset)].superseded = true
                }
            }
            latest[frame.key] = frame.seq
            if storage.count < capacity {
                storage.append(Entry(frame: frame))
            } else {
                let evicted = storage[start].frame
                if latest[evicted.key] == evicted.seq { latest[evicted.key] = nil }
                coveredFrom = evicted.seq
                storage[start] = Entry(frame: frame)
                start = (start + 1) % capacity
            }
            head = frame.seq
        }
    }

    /// Moves the covered range up to `seq` when the store has nothing more (rows of a commit can
    /// all have been superseded before they were read).
    mutating func advance(to seq: Int64) {
        head = max(head, seq)
    }

    /// Joins the visible frames after `after` (the previous round's head) into this round's
    /// segment; there is none when nothing is visible or the frames are no longer all here.
    mutating func makeSegment(after: Int64) {
        segment = nil
        guard head > after, let frames = frames(after: after, limit: Int.max), !frames.isEmpty else { return }
        var bytes = ByteBuffer()
        bytes.reserveCapacity(frames.reduce(0) { $0 + $1.frame.wire.readableBytes })
        for frame in frames { bytes.writeImmutableBuffer(frame.frame.wire) }
        segment = Segment(after: after, through: head, bytes: bytes, count: frames.count)
    }

    /// This round's segment when a subscriber at `after` can take it whole.
    func segment(after: Int64) -> Segment? {
        guard let segment, segment.after == after else { return nil }
        return segment
    }

    /// Up to `limit` visible frames with a seq above `after`, or nil when `after` lies below the
    /// covered range (the caller reads the store then).
    func frames(after: Int64, limit: Int) -> [LabelFrame]? {
        guard after >= coveredFrom else { return nil }
        var out: [LabelFrame] = []
        var offset = firstOffset(after: after)
        while offset < storage.count && out.count < limit {
            let entry = storage[index(offset)]
            if !entry.superseded { out.append(entry.frame) }
            offset += 1
        }
        return out
    }
}
