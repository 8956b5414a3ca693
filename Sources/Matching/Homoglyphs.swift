/// Letters of other scripts that are drawn like a Latin letter, folded to that letter so that
/// `раypal` (Cyrillic р and а) matches `paypal`.
///
/// The table applies after case folding, so it lists lowercase forms; an uppercase homoglyph is
/// covered through its lowercase (`Р` → `р` → `p`). Where the two cases of a letter look like
/// different Latin letters (Greek `Η`/`η`, `Ν`/`ν`), the lowercase look wins, because folding
/// must give both cases one result to keep matching case-insensitive. The selection follows
/// Unicode's confusables data for single letters, limited to those seen in evasion:
///
/// | script | folded |
/// |---|---|
/// | Cyrillic | а→a в→b г→r е→e к→k м→m н→h о→o п→n р→p с→c т→t у→y х→x ѕ→s і→i ј→j ӏ→l һ→h ԁ→d ԛ→q ԝ→w ү→y ѵ→v |
/// | Greek | α→a β→b γ→y ε→e ζ→z η→n ι→i κ→k ν→v ο→o ρ→p τ→t υ→u χ→x ω→w ϲ→c ϳ→j |
/// | Armenian | հ→h ո→n ս→u օ→o |
/// | Latin (IPA) | ı→i ɑ→a ɡ→g ɩ→i |
/// | Latin small capitals | ɪ→i ʏ→y ʜ→h ʙ→b ɢ→g ɴ→n ʀ→r ʟ→l ᴀ→a ᴄ→c ᴅ→d ᴇ→e ᴊ→j ᴋ→k ᴍ→m ᴏ→o ᴘ→p |
/// | | ᴛ→t ᴜ→u ᴠ→v ᴡ→w ᴢ→z ꜱ→s |
/// | Enclosed | 🅐…🅩 and 🅰…🆉 (negative circled and squared capitals) → a…z |
///
/// Letters with diacritics need no entries: diacritics are stripped first (`ё` → `е` → `e`).
/// Fullwidth, mathematical, circled and other compatibility letters need none either: NFKC maps
/// them to plain Latin before this table is consulted.
enum Homoglyphs {
    /// The Latin letter `scalar` is folded to, or `nil` when it is not a homoglyph.
    static func latin(for scalar: UInt32) -> UInt8? {
        switch scalar {
        case 0x1F150...0x1F169: return UInt8(0x61 + scalar - 0x1F150)
        case 0x1F170...0x1F189: return UInt8(0x61 + scalar - 0x1F170)
        default: break
        }
        return table[scalar]
    }

    private static let table: [UInt32: UInt8] = {
        let pairs: [(Character, Character)] = [
            // Cyrillic
            ("а", "a"), ("в", "b"), ("г", "r"), ("е", "e"), ("к", "k"), ("м", "m"), ("н", "h"),
            ("о", "o"), ("п", "n"), ("р", "p"), ("с", "c"), ("т", "t"), ("у", "y"), ("х", "x"),
            ("ѕ", "s"), ("і", "i"), ("ј", "j"), ("ӏ", "l"), ("һ", "h"), ("ԁ", "d"), ("ԛ", "q"),
            ("ԝ", "w"), ("ү", "y"), ("ѵ", "v"),
            // Greek
            ("α", "a"), ("β", "b"), ("γ", "y"), ("ε", "e"), ("ζ", "z"), ("η", "n"), ("ι", "i"),
            ("κ", "k"), ("ν", "v"), ("ο", "o"), ("ρ", "p"), ("τ", "t"), ("υ", "u"), ("χ", "x"),
            ("ω", "w"), ("ϲ", "c"), ("ϳ", "j"),
            // Armenian
            ("հ", "h"), ("ո", "n"), ("ս", "u"), ("օ", "o"),
            // Latin: IPA letters and small capitals
            ("ı", "i"), ("ɑ", "a"), ("ɡ", "g"), ("ɩ", "i"), ("ɪ", "i"), ("ʏ", "y"), ("ʜ", "h"),
            ("ʙ", "b"), ("ɢ", "g"), ("ɴ", "n"), ("ʀ", "r"), ("ʟ", "l"), ("ᴀ", "a"), ("ᴄ", "c"),
            ("ᴅ", "d"), ("ᴇ", "e"), ("ᴊ", "j"), ("ᴋ", "k"), ("ᴍ", "m"), ("ᴏ", "o"), ("ᴘ", "p"),
            ("ᴛ", "t"), ("ᴜ", "u"), ("ᴠ", "v"), ("ᴡ", "w"), ("ᴢ", "z"), ("ꜱ", "s"),
        ]
        var table: [UInt32: UInt8] = [:]
        for (from, to) in pairs {
            table[from.unicodeScalars.first!.value] = to.asciiValue!
        }
        return table
    }()
}

/// The "leet" folding of digits and symbols written for letters, applied only to keywords that
/// ask for it and to the text they are matched against (never to plain keywords, so `2024` still
/// matches `2024`): 0→o 1→i 3→e 4→a 5→s 7→t @→a $→s.
///
/// It maps single ASCII bytes to single ASCII bytes, so a leet text has exactly the offsets of the
/// normalised text it is derived from.
enum Leet {
    static let table: [UInt8] = {
        var table = (0...255).map { UInt8($0) }
        let pairs: [(Character, Character)] = [
            ("0", "o"), ("1", "i"), ("3", "e"), ("4", "a"), ("5", "s"), ("7", "t"), ("@", "a"), ("$", "s"),
        ]
        for (from, to) in pairs { table[Int(from.asciiValue!)] = to.asciiValue! }
        return table
    }()
}
