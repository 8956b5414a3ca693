/// A growable byte buffer that remembers, for every byte, which bytes of the original text it
/// came from: `starts[i] ..< ends[i]` in the original UTF-8. All bytes produced by one original
/// character carry that character's range; a dropped mark or squeezed repeat widens the range of
/// the character it was attributed to.
///
/// Raw storage, reused from text to text by its owning ``TextNormalizer``, so the per-text hot
/// loops write through plain pointers with no allocation.
final class MappedBytes {
    private(set) var bytes: UnsafeMutablePointer<UInt8>
    private(set) var starts: UnsafeMutablePointer<UInt32>
    private(set) var ends: UnsafeMutablePointer<UInt32>
    private(set) var capacity: Int
    var count = 0

    init(capacity: Int = 512) {
        self.capacity = capacity
        bytes = .allocate(capacity: capacity)
        starts = .allocate(capacity: capacity)
        ends = .allocate(capacity: capacity)
    }

    deinit {
        bytes.deallocate()
        starts.deallocate()
        ends.deallocate()
    }

    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: bytes, count: count) }

    /// Makes room for at least `needed` bytes, keeping the first `count`.
    func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity * 2)
        func moved<T>(_ old: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> {
            let new = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
            new.update(from: old, count: count)
            old.deallocate()
            return new
        }
        bytes = moved(bytes)
        starts = moved(starts)
        ends = moved(ends)
        capacity = newCapacity
    }

    /// The original byte range of normalised bytes `range` (non-empty): from the start of the first
    /// byte's character to the end of the last byte's.
    func originalRange(of range: Range<Int>) -> Range<Int> {
        Int(starts[range.lowerBound])..<Int(ends[range.upperBound - 1])
    }
}
