/// Extra foldings on top of the base normalisation, chosen per keyword.
public struct NormalizationOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Digits and symbols written for letters read as those letters (see ``TextNormalizer``):
    /// `fr33 m0n3y` → `free money`.
    public static let leet = NormalizationOptions(rawValue: 1 << 0)
    /// Runs of one repeated letter count once: `freeeee` → `fre` (and the keyword `free` is squeezed
    /// to `fre` too). Applied after ``leet`` when both are on.
    public static let squeeze = NormalizationOptions(rawValue: 1 << 1)
}
