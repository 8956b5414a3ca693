/// Folds text to the form keywords are compared in, keeping a map from every output byte back to
/// the original UTF-8, so a keyword found in the normalised text is reported at its place in the
/// original.
///
/// Base normalisation, always on:
/// * ASCII: letters lowercased, every whitespace run collapsed to one space; nothing else changes.
/// * Other characters go through ``ScalarFolding``: invisible characters removed, diacritics and
///   other nonspacing marks dropped, NFKC, full case folding, ``Homoglyphs`` folded to Latin.
///   Each distinct character is folded once and memoised, so the cost per character is a table
///   lookup.
///
/// Variants, per keyword (``NormalizationOptions``): ``NormalizationOptions/leet`` maps
/// 0→o 1→i 3→e 4→a 5→s 7→t @→a $→s (see ``Leet``), ``NormalizationOptions/squeeze`` collapses
/// repeated letters. Keywords are normalised by this same code with the same options, which keeps
/// both sides consistent: the leet keyword `h4te` becomes `hate` and matches `h4t3`, `hate` and `HATE`,
/// while a plain keyword `1984` stays `1984`.
///
/// Characters are folded one Unicode scalar at a time, which is what makes the offset map exact.
/// The price is that compositions spanning characters are not formed (a Hangul syllable typed as
/// separate jamo stays jamo); marks, the common case, are handled by dropping them.
///
/// A normaliser holds reusable buffers and its memo, so it is not `Sendable`: make one per worker,
/// like a ``MatchScratch``.
public final class TextNormalizer {
    let base = MappedBytes()
    private let leet = MappedBytes()
    private let squeezed = MappedBytes()
    private let leetSqueezed = MappedBytes()
    /// Which variants of the current text are computed (by `NormalizationOptions.rawValue`).
    private var ready: UInt8 = 0
    private let cache = ScalarFoldCache()

    public init() {}

    /// Normalises `text` and returns the result with its offset map.
    public func normalize(_ text: String, options: NormalizationOptions = []) -> NormalizedText {
        load(text)
        return NormalizedText(mapped(options))
    }

    /// Computes the base normalisation of `text`; variants follow on demand from ``mapped(_:)``.
    func load(_ text: String) {
        UTF8Offsets.withBytes(of: text) { fold($0) }
        ready = 1 << 0
    }

    /// The normalisation of the loaded text with `options`.
    func mapped(_ options: NormalizationOptions) -> MappedBytes {
        let bit: UInt8 = 1 << (options.rawValue & 3)
        let isReady = ready & bit != 0
        ready |= bit
        switch (options.contains(.leet), options.contains(.squeeze)) {
        case (false, false):
            return base
        case (true, false):
            if !isReady { Self.applyLeet(base, into: leet) }
            return leet
        case (false, true):
            if !isReady { Self.squeeze(base, into: squeezed) }
            return squeezed
        case (true, true):
            if !isReady { Self.squeeze(mapped(.leet), into: leetSqueezed) }
            return leetSqueezed
        }
    }

    // MARK: Base pass

    private func fold(_ source: UnsafeBufferPointer<UInt8>) {
        let out = base
        let n = source.count
        out.count = 0
        // Invariant: capacity >= k + (n - i) + 16. ASCII never outputs more bytes than it reads, so
        // only non-ASCII output needs to check for room.
        out.reserve(n + 16)
        var bytes = out.bytes, starts = out.starts, ends = out.ends, capacity = out.capacity
        var tables = cache.tables
        var k = 0
        var lastUnit = -1  // output offset where the last emitted character begins
        var lastWasSpace = false
        var i = 0
        while i < n {
            if i &+ 8 <= n,
                let chunk = ASCIIChunk.fold(
                    UInt64(littleEndian: UnsafeRawPointer(source.baseAddress! + i).loadUnaligned(as: UInt64.self)),
                    afterSpace: lastWasSpace)
            {
                UnsafeMutableRawPointer(bytes + k).storeBytes(of: chunk.word.littleEndian, as: UInt64.self)
                let offsets = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: i)) &+ SIMD8(0, 1, 2, 3, 4, 5, 6, 7)
                UnsafeMutableRawPointer(starts + k).storeBytes(of: offsets, as: SIMD8<UInt32>.self)
                UnsafeMutableRawPointer(ends + k).storeBytes(of: offsets &+ 1, as: SIMD8<UInt32>.self)
                lastWasSpace = chunk.endsWithSpace
                lastUnit = k &+ 7
                k &+= 8
                i &+= 8
                continue
            }
            let b = source[i]
            if b < 0x80 {
                let folded: UInt8
                if b == 0x20 || b &- 0x09 < 5 {
                    if lastWasSpace {
                        i &+= 1
                        continue
                    }
                    lastWasSpace = true
                    folded = 0x20
                } else {
                    lastWasSpace = false
                    folded = b &- 0x41 < 26 ? b | 0x20 : b
                }
                bytes[k] = folded
                starts[k] = UInt32(truncatingIfNeeded: i)
                ends[k] = UInt32(truncatingIfNeeded: i &+ 1)
                lastUnit = k
                k &+= 1
                i &+= 1
                continue
            }

            let length = UTF8Offsets.scalarLength(leadByte: b)
            let value = UTF8Offsets.decode(source, at: i, length: length)
            var entry = tables.entry(for: value)
            if entry == 0 {
                entry = cache.compute(value)
                tables = cache.tables
            }
            let end = UInt32(truncatingIfNeeded: i &+ length)
            switch entry & 3 {
            case ScalarFoldCache.removed:
                break
            case ScalarFoldCache.attached:
                if lastUnit >= 0 {
                    for j in lastUnit..<k { ends[j] = end }
                }
            default:
                let identity = entry & ScalarFoldCache.identity != 0
                let count = identity ? length : Int(entry >> 3 & 63)
                let piece = identity ? UnsafePointer(source.baseAddress! + i) : tables.pool + Int(entry >> 9)
                if count == 1 && piece[0] == 0x20 {
                    if lastWasSpace {
                        i &+= length
                        continue
                    }
                    lastWasSpace = true
                } else {
                    lastWasSpace = false
                }
                let needed = k &+ count &+ (n &- i &- length) &+ 16
                if needed > capacity {
                    out.count = k
                    out.reserve(needed)
                    (bytes, starts, ends, capacity) = (out.bytes, out.starts, out.ends, out.capacity)
                }
                let start = UInt32(truncatingIfNeeded: i)
                for j in 0..<count {
                    bytes[k &+ j] = piece[j]
                    starts[k &+ j] = start
                    ends[k &+ j] = end
                }
                lastUnit = k
                k &+= count
            }
            i &+= length
        }
        out.count = k
    }

    // MARK: Variants

    private static func applyLeet(_ source: MappedBytes, into out: MappedBytes) {
        let n = source.count
        out.count = 0
        out.reserve(n)
        let from = source.bytes, to = out.bytes
        Leet.table.withUnsafeBufferPointer { table in
            for i in 0..<n { to[i] = table[Int(from[i])] }
        }
        out.starts.update(from: source.starts, count: n)
        out.ends.update(from: source.ends, count: n)
        out.count = n
    }

    /// Drops every letter that repeats the letter just before it, attributing its original bytes
    /// to the kept one.
    private static func squeeze(_ source: MappedBytes, into out: MappedBytes) {
        let n = source.count
        out.count = 0
        out.reserve(n)
        let bytes = source.bytes, starts = source.starts, ends = source.ends
        let outBytes = out.bytes, outStarts = out.starts, outEnds = out.ends
        var k = 0
        var previous = 0, previousLength = 0  // the last kept character in `out`
        var i = 0
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                if previousLength == 1, outBytes[previous] == b, b &- 0x61 < 26 {
                    outEnds[previous] = max(outEnds[previous], ends[i])
                } else {
                    outBytes[k] = b
                    outStarts[k] = starts[i]
                    outEnds[k] = ends[i]
                    previous = k
                    previousLength = 1
                    k &+= 1
                }
                i &+= 1
                continue
            }
            let length = UTF8Offsets.scalarLength(leadByte: b)
            if length == previousLength, bytesEqual(outBytes + previous, bytes + i, length),
                isLetter(bytes, at: i, length: length)
            {
                let end = ends[i &+ length &- 1]
                for j in previous..<previous &+ length { outEnds[j] = max(outEnds[j], end) }
            } else {
                (outBytes + k).update(from: bytes + i, count: length)
                (outStarts + k).update(from: starts + i, count: length)
                (outEnds + k).update(from: ends + i, count: length)
                previous = k
                previousLength = length
                k &+= length
            }
            i &+= length
        }
        out.count = k
    }

    private static func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        for j in 0..<count where a[j] != b[j] { return false }
        return true
    }

    private static func isLetter(_ bytes: UnsafePointer<UInt8>, at i: Int, length: Int) -> Bool {
        let value = UTF8Offsets.decode(UnsafeBufferPointer(start: bytes, count: i + length), at: i, length: length)
        return Unicode.Scalar(value)?.properties.isAlphabetic ?? false
    }
}

@available(*, unavailable)
extension TextNormalizer: Sendable {}
