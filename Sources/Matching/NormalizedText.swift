/// A normalised text with its map back to the original (see ``TextNormalizer``).
public struct NormalizedText: Sendable, Hashable {
    /// The normalised text.
    public let text: String
    private let starts: [UInt32]
    private let ends: [UInt32]

    init(_ mapped: MappedBytes) {
        let buffer = mapped.buffer
        text = String(decoding: buffer, as: UTF8.self)
        starts = Array(UnsafeBufferPointer(start: mapped.starts, count: mapped.count))
        ends = Array(UnsafeBufferPointer(start: mapped.ends, count: mapped.count))
    }

    /// For each byte of ``text``'s UTF-8, the byte range of the original text's character it came
    /// from (widened over dropped marks and squeezed repeats attributed to it).
    public var offsetMap: [Range<Int>] {
        zip(starts, ends).map { Int($0)..<Int($1) }
    }

    /// The original byte range covered by normalised bytes `range`: from the start of the first
    /// byte's source character to the end of the last one's. `range` must be non-empty.
    public func originalByteRange(of range: Range<Int>) -> Range<Int> {
        Int(starts[range.lowerBound])..<Int(ends[range.upperBound - 1])
    }
}
