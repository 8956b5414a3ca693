/// Many byte strings stored end to end in one buffer, with one offset each.
///
/// A list of a million keywords kept as `[String]` or `[[UInt8]]` costs a heap object per entry:
/// tens of bytes of overhead on top of the text, a million allocations to build and a million
/// frees when a reloaded rule set is dropped. Here it is two arrays, whatever the count.
struct ByteStrings: Sendable {
    private(set) var bytes: [UInt8] = []
    /// End offset of each string in `bytes`; string `i` starts where string `i - 1` ends.
    private(set) var ends: [UInt32] = []

    init() {}

    /// Number of strings.
    var count: Int { ends.count }

    /// Total number of bytes.
    var byteCount: Int { bytes.count }

    /// Approximate memory held, in bytes.
    var memoryBytes: Int { bytes.capacity + 4 * ends.capacity }

    mutating func append(_ string: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: string)
        precondition(bytes.count <= Int(UInt32.max), "byte strings exceed 4 GiB")
        ends.append(UInt32(truncatingIfNeeded: bytes.count))
    }

    mutating func append(_ string: String) {
        var string = string
        string.withUTF8 { append($0) }
    }

    /// Where string `index` lies in `bytes`.
    @inline(__always)
    func range(_ index: Int) -> Range<Int> {
        (index == 0 ? 0 : Int(ends[index &- 1]))..<Int(ends[index])
    }

    /// The length of string `index`, in bytes.
    @inline(__always)
    func length(_ index: Int) -> Int { range(index).count }

    /// String `index`, decoded as UTF-8.
    func string(_ index: Int) -> String {
        let range = range(index)
        return bytes.withUnsafeBufferPointer { String(decoding: $0[range], as: UTF8.self) }
    }

    /// Calls `body` with the bytes of string `index`.
    @inline(__always)
    func withBytes<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let range = range(index)
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    mutating func reserveCapacity(strings: Int, bytes byteCount: Int) {
        ends.reserveCapacity(strings)
        bytes.reserveCapacity(byteCount)
    }
}
