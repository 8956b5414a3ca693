/// `rollout: 10%`: the share of accounts a rule labels for real while it is being watched; for the
/// other accounts its labels and negations are dry runs, as in `mode: log`.
///
/// Which accounts are in is decided by the DID alone (see ``bucket(of:)``), not by chance: an
/// account in the canary stays in on every event, after every restart and on every machine, so
/// its labels never come and go, and raising the share only adds accounts (those in at 10% are
/// still in at 20%).
public struct Rollout: Hashable, Sendable, CustomStringConvertible {
    /// The share in basis points (hundredths of a percent): 0 is no account, 10 000 every account.
    public let basisPoints: Int

    /// Buckets accounts are spread over; a rollout of `b` basis points covers buckets `0 ..< b`.
    public static let buckets = 10_000

    public init?(basisPoints: Int) {
        guard (0...Self.buckets).contains(basisPoints) else { return nil }
        self.basisPoints = basisPoints
    }

    /// Parses a percentage with at most two decimals, from `0%` to `100%`: `10%`, `0.5%`, `12.25%`.
    /// `nil` for anything else (no `%`, a sign, a third decimal, more than 100).
    public init?(_ text: String) {
        guard text.hasSuffix("%") else { return nil }
        let number = text.dropLast()
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count > 1 ? parts[1] : ""
        let digits = "0123456789"
        guard !whole.isEmpty, whole.count <= 3, whole.allSatisfy(digits.contains), fraction.count <= 2,
            parts.count == 1 || !fraction.isEmpty, fraction.allSatisfy(digits.contains),
            let percent = Int(whole)
        else { return nil }
        let hundredths = (Int(fraction) ?? 0) * (fraction.count == 1 ? 10 : 1)
        self.init(basisPoints: percent * 100 + hundredths)
    }

    /// Whether the account `did` is in the rollout: its bucket is below the share.
    public func covers(did: String) -> Bool {
        basisPoints >= Self.buckets || Self.bucket(of: did) < basisPoints
    }

    /// The account's bucket, `0 ..< 10 000`: the 64-bit FNV-1a hash of the DID's UTF-8 bytes
    /// (offset basis 0xcbf29ce484222325, prime 0x100000001b3), modulo 10 000. Fixed here rather
    /// than taken from `Hasher`, whose seed changes with every process.
    public static func bucket(of did: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in did.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(buckets))
    }

    /// The share as a percentage: `10%`, `0.5%`.
    public var description: String {
        let whole = basisPoints / 100
        let fraction = basisPoints % 100
        if fraction == 0 { return "\(whole)%" }
        return fraction % 10 == 0 ? "\(whole).\(fraction / 10)%" : "\(whole).\(fraction < 10 ? "0" : "")\(fraction)%"
    }
}

extension RuleInfo {
    /// Whether the rule's labels and negations for the account `did` are emitted, rather than
    /// reported as dry runs: in `mode: label` and, with a rollout, for the accounts it covers.
    public func emits(for did: String) -> Bool {
        mode == .label && (rollout?.covers(did: did) ?? true)
    }
}
