#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Substring search for ``RequiredLiteral``: candidates come from `memchr` (vectorised in libc)
/// on the needle's rarest byte, then the whole needle is compared there. Anchoring on a rare byte
/// (`y` in `giveaway`, not `a`) keeps candidates, and so comparisons, few.
///
/// With `ignoringASCIICase` the needle must be lowercase ASCII; an anchor letter is searched in
/// both cases.
struct ByteSearch {
    private let needle: UnsafeBufferPointer<UInt8>
    private let ignoringASCIICase: Bool
    /// Offset in the needle of the byte `memchr` looks for.
    private let anchor: Int

    /// - Parameter anchor: an offset in `needle`, ideally ``rarestByteOffset(in:)``.
    init(needle: UnsafeBufferPointer<UInt8>, anchor: Int, ignoringASCIICase: Bool) {
        self.needle = needle
        self.anchor = anchor
        self.ignoringASCIICase = ignoringASCIICase
    }

    /// The offset of the needle's least common byte.
    static func rarestByteOffset(in needle: [UInt8]) -> Int {
        var anchor = 0
        for i in needle.indices where commonness(needle[i]) < commonness(needle[anchor]) { anchor = i }
        return anchor
    }

    func occurs(in hay: UnsafeBufferPointer<UInt8>) -> Bool {
        let m = needle.count
        guard m > 0 else { return true }
        guard m <= hay.count, let base = hay.baseAddress else { return false }
        // Anchor positions from `anchor` to `lastAnchor` leave room for the whole needle.
        let lastAnchor = hay.count - m + anchor
        let target = needle[anchor]
        let isLetter = ignoringASCIICase && target &- 0x61 < 26
        var lower = find(target, base, from: anchor, through: lastAnchor)
        var upper = isLetter ? find(target ^ 0x20, base, from: anchor, through: lastAnchor) : nil
        while true {
            let position: Int
            switch (lower, upper) {
            case (nil, nil):
                return false
            case (let l?, nil):
                position = l
                lower = find(target, base, from: l + 1, through: lastAnchor)
            case (nil, let u?):
                position = u
                upper = find(target ^ 0x20, base, from: u + 1, through: lastAnchor)
            case (let l?, let u?):
                position = min(l, u)
                if l < u {
                    lower = find(target, base, from: l + 1, through: lastAnchor)
                } else {
                    upper = find(target ^ 0x20, base, from: u + 1, through: lastAnchor)
                }
            }
            if matches(base + (position - anchor)) { return true }
        }
    }

    private func find(_ byte: UInt8, _ base: UnsafePointer<UInt8>, from start: Int, through last: Int) -> Int? {
        guard start <= last, let found = memchr(base + start, Int32(byte), last - start + 1) else { return nil }
        return UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
    }

    private func matches(_ candidate: UnsafePointer<UInt8>) -> Bool {
        guard ignoringASCIICase else { return memcmp(candidate, needle.baseAddress!, needle.count) == 0 }
        for j in 0..<needle.count {
            var b = candidate[j]
            if b &- 0x41 < 26 { b |= 0x20 }
            if b != needle[j] { return false }
        }
        return true
    }

    /// Rough frequency rank of a byte in social-media text (higher is more common): space, then
    /// English letter frequencies, uppercase rarer than lowercase, UTF-8 bytes of other scripts
    /// fairly common, digits and most punctuation rare.
    private static func commonness(_ byte: UInt8) -> Int {
        switch byte {
        case 0x20: return 255
        case 0x61...0x7A: return letterRank[Int(byte - 0x61)]
        case 0x41...0x5A: return letterRank[Int(byte - 0x41)] - 100
        case 0x80...: return 160
        case 0x2E, 0x2C: return 150
        case 0x30...0x39: return 120
        default: return 110
        }
    }

    /// a…z, ranked by English letter frequency (e most common, z least).
    private static let letterRank = [
        240, 155, 195, 205, 250, 175, 170, 215, 230, 140, 145, 200, 185,
        225, 235, 160, 130, 210, 220, 245, 190, 150, 180, 135, 165, 125,
    ]
}
