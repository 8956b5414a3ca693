/// Memo of ``ScalarFolding`` results, so the Foundation-based folding runs once per distinct
/// scalar a normaliser meets, and each later occurrence costs two memory reads.
///
/// Two-level table over the whole code space: 0x1100 page slots (one per 256 scalars) point at
/// pages of 256 packed entries, allocated when a scalar of that page is first seen. Texts use a
/// handful of scripts, so a few kilobytes suffice; the folded bytes themselves are kept in a pool.
///
/// Entry layout (`UInt32`): 0 = not computed yet; low two bits 1 = removed, 2 = attached,
/// 3 = text; for text, bit 2 set means "same bytes as the original scalar", otherwise bits 3–8 hold
/// the length and bits 9–31 the offset in the pool.
///
/// The tables are raw memory read through a ``Tables`` snapshot, so the normaliser's loop does no
/// reference counting or exclusivity checks; a snapshot is invalidated by ``compute(_:)``.
final class ScalarFoldCache {
    static let removed: UInt32 = 1
    static let attached: UInt32 = 2
    static let text: UInt32 = 3
    static let identity: UInt32 = 4

    private static let slotCount = 0x1100

    /// The current tables; valid until the next ``compute(_:)``.
    struct Tables {
        let pageSlots: UnsafePointer<Int32>
        let entries: UnsafePointer<UInt32>
        let pool: UnsafePointer<UInt8>

        /// The packed entry for `value`, or 0 when it has not been computed yet.
        @inline(__always)
        func entry(for value: UInt32) -> UInt32 {
            let page = pageSlots[Int(value &>> 8)]
            return page < 0 ? 0 : entries[Int(page) &<< 8 | Int(value & 0xFF)]
        }
    }

    private let pageSlots: UnsafeMutablePointer<Int32>
    private var entries: UnsafeMutablePointer<UInt32>
    private var pageCount = 0
    private var pageCapacity = 8
    private var pool: UnsafeMutablePointer<UInt8>
    private var poolCount = 0
    private var poolCapacity = 4096

    init() {
        pageSlots = .allocate(capacity: Self.slotCount)
        pageSlots.initialize(repeating: -1, count: Self.slotCount)
        entries = .allocate(capacity: pageCapacity << 8)
        pool = .allocate(capacity: poolCapacity)
    }

    deinit {
        pageSlots.deallocate()
        entries.deallocate()
        pool.deallocate()
    }

    var tables: Tables { Tables(pageSlots: pageSlots, entries: entries, pool: pool) }

    /// Folds `value`, memoises and returns its packed entry.
    func compute(_ value: UInt32) -> UInt32 {
        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
        let entry: UInt32
        switch ScalarFolding.fold(scalar) {
        case .removed:
            entry = Self.removed
        case .attached:
            entry = Self.attached
        case .text(let bytes) where bytes.elementsEqual(String(scalar).utf8):
            entry = Self.text | Self.identity
        case .text(let bytes):
            // At most 33 bytes (U+FDFA), and only the few thousand scalars that fold to something
            // else reach the pool, so the packing limits (63 bytes, 8 MiB) cannot be reached.
            precondition(bytes.count < 64 && poolCount + bytes.count < 1 << 23, "fold cache overflow")
            entry = Self.text | UInt32(bytes.count) << 3 | UInt32(poolCount) << 9
            if poolCount + bytes.count > poolCapacity {
                pool = Self.grow(pool, count: poolCount, to: poolCapacity * 2)
                poolCapacity *= 2
            }
            (pool + poolCount).update(from: bytes, count: bytes.count)
            poolCount += bytes.count
        }
        let slot = Int(value >> 8)
        if pageSlots[slot] < 0 {
            if pageCount == pageCapacity {
                entries = Self.grow(entries, count: pageCount << 8, to: pageCapacity << 9)
                pageCapacity *= 2
            }
            (entries + pageCount << 8).initialize(repeating: 0, count: 256)
            pageSlots[slot] = Int32(pageCount)
            pageCount += 1
        }
        entries[Int(pageSlots[slot]) << 8 | Int(value & 0xFF)] = entry
        return entry
    }

    private static func grow<T>(
        _ old: UnsafeMutablePointer<T>, count: Int, to capacity: Int
    ) -> UnsafeMutablePointer<T> {
        let new = UnsafeMutablePointer<T>.allocate(capacity: capacity)
        new.moveInitialize(from: old, count: count)
        old.deallocate()
        return new
    }
}
