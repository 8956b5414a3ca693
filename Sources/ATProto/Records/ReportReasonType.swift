/// The reason types of `com.atproto.moderation.createReport`: the lexicon's known values, from
/// `com.atproto.moderation.defs` and `tools.ozone.report.defs`. The report intake accepts only
/// these, and rule files name them (`reason_types:`) by value or by short name.
public enum ReportReasonType {
    /// Every reason type of `com.atproto.moderation.defs`, what the app sends.
    public static let moderationDefs: [String] = [
        "reasonSpam", "reasonViolation", "reasonMisleading", "reasonSexual", "reasonRude", "reasonOther",
        "reasonAppeal",
    ].map { "com.atproto.moderation.defs#" + $0 }

    /// Every reason type of `tools.ozone.report.defs`, finer-grained.
    public static let ozoneDefs: [String] = [
        "Appeal", "Other", "ViolenceAnimal", "ViolenceThreats", "ViolenceGraphicContent", "ViolenceGlorification",
        "ViolenceExtremistContent", "ViolenceTrafficking", "ViolenceOther", "SexualAbuseContent", "SexualNCII",
        "SexualDeepfake", "SexualAnimal", "SexualUnlabeled", "SexualOther", "ChildSafetyCSAM", "ChildSafetyGroom",
        "ChildSafetyPrivacy", "ChildSafetyHarassment", "ChildSafetyOther", "HarassmentTroll", "HarassmentTargeted",
        "HarassmentHateSpeech", "HarassmentDoxxing", "HarassmentOther", "MisleadingBot", "MisleadingImpersonation",
        "MisleadingSpam", "MisleadingScam", "MisleadingElections", "MisleadingOther", "RuleSiteSecurity",
        "RuleProhibitedSales", "RuleBanEvasion", "RuleOther", "SelfHarmContent", "SelfHarmED", "SelfHarmStunts",
        "SelfHarmSubstances", "SelfHarmOther",
    ].map { "tools.ozone.report.defs#reason" + $0 }

    /// Every known reason type, in lexicon order.
    public static let all: [String] = moderationDefs + ozoneDefs

    /// The reason types that make a report an appeal (when its subject's own account sends it).
    public static let appeal: Set<String> = [
        "com.atproto.moderation.defs#reasonAppeal", "tools.ozone.report.defs#reasonAppeal",
    ]

    /// The short name of a reason type, as rule files may write it: what follows `#reason`,
    /// lowercased (`com.atproto.moderation.defs#reasonSpam` → `spam`,
    /// `tools.ozone.report.defs#reasonMisleadingSpam` → `misleadingspam`); nil for a value
    /// without `#reason`.
    public static func shortName(of reasonType: String) -> String? {
        guard let hash = reasonType.firstIndex(of: "#") else { return nil }
        let fragment = reasonType[reasonType.index(after: hash)...]
        guard fragment.hasPrefix("reason"), fragment.count > 6 else { return nil }
        return fragment.dropFirst(6).lowercased()
    }
}
