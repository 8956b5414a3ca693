#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hash table from byte strings to numbers: open addressing with linear probing over one flat
/// array of slots, keys in ``ByteStrings``. Several values may share one key (a list entry used by
/// two rules); a lookup reports them all.
///
/// Built for big lists: a million entries take four arrays and no per-entry allocation, insertion
/// is amortised constant time, and a lookup hashes the key once and compares bytes only with keys
/// of the same hash.
struct TokenTable: Sendable {
    private(set) var keys = ByteStrings()
    /// The value stored with each key.
    private(set) var values: [UInt32] = []
    /// Each key's hash, so growing never rehashes bytes and most probes skip the byte comparison.
    private var hashes: [UInt32] = []
    /// Power-of-two count, at most half full: 0 for empty, else key index + 1.
    private var slots = [UInt32](repeating: 0, count: 16)

    init() {}

    /// Number of keys stored (a key stored with two values counts twice).
    var count: Int { values.count }

    /// Approximate memory held, in bytes.
    var memoryBytes: Int { keys.memoryBytes + 4 * (values.capacity + hashes.capacity + slots.capacity) }

    /// Stores `key` with `value` (a key already stored keeps its values; look it up first to
    /// avoid repeats). `key` must not be empty.
    mutating func insert(_ key: UnsafeBufferPointer<UInt8>, value: UInt32) {
        precondition(!key.isEmpty, "empty key")
        let hash = Self.hash(key)
        if 2 * (values.count + 1) > slots.count { grow() }
        keys.append(key)
        values.append(value)
        hashes.append(hash)
        place(UInt32(truncatingIfNeeded: values.count), hash: hash)
    }

    /// Calls `body` with every value stored under `key`.
    @inline(__always)
    func forEachValue(of key: UnsafeBufferPointer<UInt8>, _ body: (UInt32) -> Void) {
        guard !values.isEmpty, !key.isEmpty else { return }
        probe(key, hash: Self.hash(key), body)
    }

    private func probe(_ key: UnsafeBufferPointer<UInt8>, hash: UInt32, _ body: (UInt32) -> Void) {
        slots.withUnsafeBufferPointer { slots in
            hashes.withUnsafeBufferPointer { hashes in
                keys.bytes.withUnsafeBufferPointer { bytes in
                    let mask = slots.count &- 1
                    var position = Int(hash) & mask
                    while true {
                        let slot = slots[position]
                        if slot == 0 { return }
                        let index = Int(slot &- 1)
                        if hashes[index] == hash {
                            let range = keys.range(index)
                            if range.count == key.count,
                                memcmp(bytes.baseAddress! + range.lowerBound, key.baseAddress!, key.count) == 0
                            {
                                body(values[index])
                            }
                        }
                        position = (position &+ 1) & mask
                    }
                }
            }
        }
    }

    private mutating func place(_ slot: UInt32, hash: UInt32) {
        let mask = slots.count &- 1
        var position = Int(hash) & mask
        while slots[position] != 0 { position = (position &+ 1) & mask }
        slots[position] = slot
    }

    private mutating func grow() {
        slots = [UInt32](repeating: 0, count: slots.count * 2)
        for index in hashes.indices { place(UInt32(truncatingIfNeeded: index &+ 1), hash: hashes[index]) }
    }

    /// Reserves room for `count` keys of `bytes` bytes in all.
    mutating func reserveCapacity(_ count: Int, bytes: Int) {
        keys.reserveCapacity(strings: count, bytes: bytes)
        values.reserveCapacity(count)
        hashes.reserveCapacity(count)
        var size = slots.count
        while size < 2 * count { size *= 2 }
        if size > slots.count {
            slots = [UInt32](repeating: 0, count: size)
            for index in hashes.indices { place(UInt32(truncatingIfNeeded: index &+ 1), hash: hashes[index]) }
        }
    }

    /// A seeded hash (Swift's `Hasher`, random per process), so texts crafted to collide with a
    /// list's entries cannot be prepared in advance.
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(key))
        let value = hasher.finalize()
        return UInt32(truncatingIfNeeded: value ^ (value >> 32))
    }
}
