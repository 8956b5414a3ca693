/// Curve orders, as 32-byte big-endian integers.
enum CurveOrder {
    static let secp256k1: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
        0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
    ]
    static let p256: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]
    static let secp256k1Half = BigEndian256.halve(secp256k1)
    static let p256Half = BigEndian256.halve(p256)
}

/// The low-S rule: of the two valid signatures `(r, s)` and `(r, n − s)` for one message, atproto
/// accepts only the one with `s ≤ n/2` (PROTOCOL §3.2 step 4–5, "Verifiers must reject high-S").
/// libsecp256k1 signs and verifies this way by itself; P-256 (swift-crypto) needs it done here.
enum LowS {
    /// Whether the `s` half of a 64-byte `r ‖ s` signature is at most `n/2`.
    static func isLowS(_ signature: [UInt8], curve: KeyType) -> Bool {
        precondition(signature.count == 64)
        return BigEndian256.compare(signature[32..<64], curve.halfOrder) <= 0
    }

    /// The low-S twin of a 64-byte `r ‖ s` signature: unchanged when already low, else `(r, n − s)`.
    static func normalize(_ signature: [UInt8], curve: KeyType) -> [UInt8] {
        if isLowS(signature, curve: curve) { return signature }
        return Array(signature[0..<32]) + BigEndian256.subtract(curve.order, signature[32..<64])
    }
}

/// Arithmetic on unsigned 256-bit integers stored as 32 big-endian bytes; just enough for the
/// low-S rule and for range-checking scalars. Not constant time: only public values (signatures,
/// curve orders) and a yes/no range check on keys go through it.
enum BigEndian256 {
    /// -1, 0 or 1 as `a` is less than, equal to or greater than `b`.
    static func compare(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Int {
        precondition(a.count == 32 && b.count == 32)
        for (x, y) in zip(a, b) where x != y {
            return x < y ? -1 : 1
        }
        return 0
    }

    /// `a − b`, for `a ≥ b`.
    static func subtract(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> [UInt8] {
        let a = Array(a), b = Array(b)
        precondition(a.count == 32 && b.count == 32)
        var out = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for i in stride(from: 31, through: 0, by: -1) {
            var d = Int(a[i]) - Int(b[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            out[i] = UInt8(d)
        }
        precondition(borrow == 0, "subtract: a < b")
        return out
    }

    /// `a / 2`, rounded down.
    static func halve(_ a: some Collection<UInt8>) -> [UInt8] {
        precondition(a.count == 32)
        var out = [UInt8](repeating: 0, count: 32)
        var carry: UInt8 = 0
        for (i, byte) in a.enumerated() {
            out[i] = (byte >> 1) | carry
            carry = (byte & 1) << 7
        }
        return out
    }

    static func isZero(_ a: some Collection<UInt8>) -> Bool {
        a.allSatisfy { $0 == 0 }
    }

    /// Whether `value` is a valid scalar for a curve of this order: `0 < value < n`.
    static func isScalar(_ value: some Collection<UInt8>, below order: [UInt8]) -> Bool {
        value.count == 32 && !isZero(value) && compare(value, order) < 0
    }
}

extension KeyType {
    /// Whether a 64-byte `r ‖ s` signature is in the low-S form atproto requires, so that a
    /// verifier can name a high-S signature as such instead of reporting a plain mismatch.
    /// Any other length is not a compact signature and is reported as false.
    public func isLowS(_ signature: [UInt8]) -> Bool {
        signature.count == 64 && LowS.isLowS(signature, curve: self)
    }
}
