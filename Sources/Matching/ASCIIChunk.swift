/// Eight bytes of text folded at once (SWAR: bitwise arithmetic on a 64-bit word), the fast path of
/// ``TextNormalizer`` for the ASCII runs that make up most posts.
///
/// A chunk qualifies when all eight bytes are ASCII, none is a control character (tab and newline
/// included) and no space needs collapsing (two in a row, or one right after a space); the
/// folding is then lowercasing alone and each output byte maps to its own input byte. Every other
/// chunk takes the byte-by-byte path.
enum ASCIIChunk {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let high: UInt64 = 0x8080_8080_8080_8080

    /// The lowercased chunk and whether its last byte is a space, or `nil` when the chunk does not
    /// qualify. `word` holds the bytes in memory order (little-endian value).
    @inline(__always)
    static func fold(_ word: UInt64, afterSpace: Bool) -> (word: UInt64, endsWithSpace: Bool)? {
        guard word & high == 0 else { return nil }  // non-ASCII
        // Adding 0x60 sets the high bit exactly for bytes >= 0x20 (no byte carries into the next).
        guard (word &+ 0x60 &* ones) & high == high else { return nil }  // control characters
        let x = word ^ (0x20 &* ones)  // zero bytes where the text has spaces
        let spaces = ~((x &+ 0x7F &* ones) | x) & high
        guard spaces & (spaces << 8) == 0, !(afterSpace && spaces & 0x80 != 0) else { return nil }
        let atLeastA = (word &+ 0x3F &* ones) & high  // >= "A"
        let pastZ = (word &+ 0x25 &* ones) & high  // >= "["
        let upper = atLeastA & ~pastZ
        return (word | upper >> 2, spaces >> 63 != 0)
    }
}
