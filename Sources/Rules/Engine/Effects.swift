import ATProto

/// Where and why a condition held: the field, which of its values (the second alt text is
/// value 1), the matched span as UTF-8 byte offsets in that value, and the matched text.
public struct MatchEvidence: Hashable, Sendable, CustomStringConvertible {
    public var field: Field
    public var valueIndex: Int
    public var byteRange: Range<Int>
    /// The matched text, cut to at most ``maxTextBytes`` bytes.
    public var text: String
    /// What matched: `keyword "airdrop"`, `regex free\s+crypto`, `langs pt`.
    public var matcher: String

    /// Longest matched text kept (a regex may match a whole post).
    public static let maxTextBytes = 200

    public init(field: Field, valueIndex: Int, byteRange: Range<Int>, text: String, matcher: String) {
        self.field = field
        self.valueIndex = valueIndex
        self.byteRange = byteRange
        self.text = Self.clip(text)
        self.matcher = matcher
    }

    public var description: String {
        let place = valueIndex == 0 ? field.yamlName : "\(field.yamlName)[\(valueIndex)]"
        return "\(place) \(byteRange.lowerBound)..<\(byteRange.upperBound) \(String(reflecting: text)) (\(matcher))"
    }

    static func clip(_ text: String) -> String {
        guard text.utf8.count > maxTextBytes else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: maxTextBytes)
        while end > text.startIndex, !text.unicodeScalars.indices.contains(end) { end = text.utf8.index(before: end) }
        return String(text[..<end]) + "…"
    }
}

/// A label to apply or negate, with the rule that decided it.
public struct LabelEffect: Hashable, Sendable, CustomStringConvertible {
    public var ruleID: String
    /// The label value.
    public var value: String
    /// The record or account the label is on.
    public var subject: LabelSubject
    /// The version of the record the label is on (none for accounts); a negation names the
    /// replaced version, the one the label being negated was applied to.
    public var cid: String?
    /// `true` for a negation (`on_no_match: negate`).
    public var negate: Bool
    /// Expiry (`expires_in`), as an atproto datetime; `nil` for none.
    public var expires: String?
    /// What matched; `nil` for negations and conditions without a matched text.
    public var evidence: MatchEvidence?
    /// The rule's budget (`limits:`), carried with the label so the writer counts it under the
    /// limits in force when the rule fired.
    public var limits: RuleLimits?

    public init(
        ruleID: String, value: String, subject: LabelSubject, cid: String? = nil, negate: Bool = false,
        expires: String? = nil, evidence: MatchEvidence? = nil, limits: RuleLimits? = nil
    ) {
        self.limits = limits
        self.ruleID = ruleID
        self.value = value
        self.subject = subject
        self.cid = cid
        self.negate = negate
        self.expires = expires
        self.evidence = evidence
    }

    public var description: String {
        var line = "\(negate ? "negate" : "apply") \(value) on \(subject)"
        if let cid { line += " (cid \(cid))" }
        line += " by rule \(ruleID)"
        if let expires { line += ", expires \(expires)" }
        return line
    }
}

/// A rule whose condition held (and whose threshold, if any, was reached) on the event.
public struct RuleFiring: Hashable, Sendable {
    public var ruleID: String
    public var evidence: MatchEvidence?

    public init(ruleID: String, evidence: MatchEvidence?) {
        self.ruleID = ruleID
        self.evidence = evidence
    }
}

/// One more match of a threshold rule for an account, to be recorded by the caller so that later
/// events see it in their ``ThresholdCounts``. Entries older than `window` can be forgotten.
public struct CounterBump: Hashable, Sendable {
    public var ruleID: String
    public var did: String
    /// When it happened (``RecordContext/time``), in microseconds since the epoch.
    public var time: Int64
    /// The rule's window in microseconds.
    public var window: Int64

    public init(ruleID: String, did: String, time: Int64, window: Int64) {
        self.ruleID = ruleID
        self.did = did
        self.time = time
        self.window = window
    }
}

/// A rule that could not be evaluated on one record (a regex gave up at its match limit), or
/// whose label could not name the record (an event built from text that is not a valid DID or
/// record path). The rule neither labels nor negates for this record; the other rules are
/// unaffected.
public struct RuleFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public var ruleID: String
    /// The record URI (or DID, for identity events).
    public var uri: String
    /// The regex that failed; nil when the label's subject was the problem.
    public var pattern: String?
    public var reason: String

    public init(ruleID: String, uri: String, pattern: String?, reason: String) {
        self.ruleID = ruleID
        self.uri = uri
        self.pattern = pattern
        self.reason = reason
    }

    public var description: String {
        "rule \(ruleID) on \(uri): \(reason)" + (pattern.map { " (regex \($0))" } ?? "")
    }
}

/// Everything the rules decided about one event. The engine only describes; the caller applies:
/// it de-duplicates labels against current state (so a negation of a label that was never applied
/// is a no-op), signs and stores them, records counter bumps, logs dry-run hits and failures.
public struct Effects: Sendable {
    /// Labels to apply.
    public var labels: [LabelEffect] = []
    /// Labels to negate.
    public var negations: [LabelEffect] = []
    /// What rules in `mode: log`, and rules with a `rollout` for accounts outside it, would have
    /// applied or negated; never emitted.
    public var dryRun: [LabelEffect] = []
    public var counterBumps: [CounterBump] = []
    public var failures: [RuleFailure] = []
    /// Every rule that fired, in evaluation order, labeling or not.
    public var fired: [RuleFiring] = []

    public init() {}

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        labels.isEmpty && negations.isEmpty && dryRun.isEmpty && counterBumps.isEmpty && failures.isEmpty
            && fired.isEmpty
    }
}
