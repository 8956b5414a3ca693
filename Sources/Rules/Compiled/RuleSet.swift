import Matching

/// A validated, compiled rule set: immutable, shared by every worker, swapped as a whole on reload.
///
/// ```swift
/// let rules = try RuleSet.load(directory: "rules")     // throws RuleLoadError with every problem
/// let scratch = RuleScratch()                          // one per worker
/// let effects = rules.evaluate(context, counts: store, using: scratch)
/// ```
///
/// All keywords of all rules, plus the required literals of the regexes, are compiled into one
/// ``KeywordSet`` that runs once per field value; a regex runs only where its literal was seen
/// (or always, when it has none).
public final class RuleSet: Sendable {
    /// The rules in evaluation order: every rule comes after the rules it references.
    public let rules: [RuleInfo]
    /// Every file read: rule files, then list files.
    public let files: [String]
    /// Number of keywords (list entries) over all rules.
    public let keywordCount: Int
    /// Number of regexes over all rules.
    public let regexCount: Int

    let compiled: [CompiledRule]
    let matchers: [CompiledMatcher]
    let regexes: [CompiledRegex]
    let keywords: KeywordSet<ScanTag>
    /// Rules to run per ``RecordKind/slot``, in evaluation order. Slot 5 (other collections) holds
    /// every rule with a collection kind; the event's collection is matched against them.
    let rulesBySlot: [[Int]]
    /// Collection globs per rule (empty for rules without collection kinds).
    let collectionGlobs: [[String]]
    private let indexByID: [String: Int]

    init(
        compiled: [CompiledRule], matchers: [CompiledMatcher], regexes: [CompiledRegex], keywords: KeywordSet<ScanTag>,
        files: [String]
    ) {
        self.compiled = compiled
        self.matchers = matchers
        self.regexes = regexes
        self.keywords = keywords
        self.files = files
        rules = compiled.map(\.info)
        keywordCount = keywords.count - regexes.filter(\.prefiltered).count
        regexCount = regexes.count
        var indexByID: [String: Int] = [:]
        for (index, rule) in compiled.enumerated() { indexByID[rule.info.id] = index }
        self.indexByID = indexByID
        collectionGlobs = compiled.map { rule in
            rule.info.kinds.compactMap { if case .collection(let glob) = $0 { glob } else { nil } }
        }
        var rulesBySlot = [[Int]](repeating: [], count: RecordKind.slotCount)
        for (index, rule) in compiled.enumerated() {
            for slot in 0..<RecordKind.slotCount where rule.info.applies(toSlot: slot) {
                rulesBySlot[slot].append(index)
            }
        }
        self.rulesBySlot = rulesBySlot
    }

    /// A set with no rules: every evaluation gives empty effects.
    public static let empty = RuleSet(
        compiled: [], matchers: [], regexes: [], keywords: KeywordSetBuilder<ScanTag>().build(), files: [])

    /// The rule with `id`, if any.
    public func rule(_ id: String) -> RuleInfo? {
        indexByID[id].map { rules[$0] }
    }

    /// Loads every rule file under `directory` (see ``RuleSources/directory(_:)``).
    /// - Throws: ``RuleLoadError`` listing every problem; nothing is half-loaded.
    public static func load(directory: String) throws(RuleLoadError) -> RuleSet {
        try load(RuleSources.directory(directory))
    }

    /// Loads a rule set from `sources`.
    /// - Throws: ``RuleLoadError`` listing every problem; nothing is half-loaded.
    public static func load(_ sources: RuleSources, options: LoadOptions = LoadOptions()) throws(RuleLoadError) -> RuleSet {
        try RuleSetCompiler.compile(sources, options: options)
    }

    /// Switches of the compiler, for measurements; the defaults are what the service uses.
    public struct LoadOptions: Sendable {
        /// Run a regex only on field values where the keyword automaton saw its required literal.
        /// Off, each regex searches the value for its literal itself before running (one byte
        /// search per regex and value).
        public var regexPrefilter = true

        public init(regexPrefilter: Bool = true) {
            self.regexPrefilter = regexPrefilter
        }
    }

    /// One line for logs and `labeler rules check`: counts of rules, keywords, regexes and files.
    public var summary: String {
        "\(rules.count) rules, \(keywordCount) keywords, \(regexCount) regexes, \(files.count) files"
    }
}

extension RuleInfo {
    /// Whether events of kind slot `slot` run this rule: a named kind in `on:`, or a collection
    /// glob (for other collections, and for named kinds whose collection it matches).
    func applies(toSlot slot: Int) -> Bool {
        kinds.contains { RecordKind.kind($0, appliesTo: slot) }
    }
}

/// NSID glob matching for `on:` collections: an exact NSID, `*`, or a prefix of whole segments
/// followed by `.*`.
enum CollectionGlob {
    static func matches(_ glob: String, _ collection: String) -> Bool {
        if glob == "*" { return true }
        guard glob.hasSuffix(".*") else { return glob == collection }
        let prefix = glob.dropLast()  // keeps the dot: only whole segments match
        return collection.utf8.count > prefix.utf8.count && collection.hasPrefix(prefix)
    }
}
