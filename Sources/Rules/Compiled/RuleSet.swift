import Matching
import Synchronization

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
/// (or always, when it has none). Keyword matchers that read only token fields (domains, tags,
/// handles, language codes; see ``Field/tokenShape``) are compiled into one ``TokenSet`` instead,
/// looked up with each value of those fields.
public final class RuleSet: Sendable {
    /// The rules in evaluation order: every rule comes after the rules it references.
    public let rules: [RuleInfo]
    /// Every file read: rule files, `labels.yaml` when there is one, then list files.
    public let files: [String]
    /// The folder's `labels.yaml`, or `nil` when it has none (label values are then not checked
    /// against definitions).
    public let labelDefinitions: LabelDefinitions?
    /// What loaded but deserves a look (a rule emitting a global value), ordered by place.
    public let warnings: [RuleDiagnostic]
    /// Number of keywords (list entries) over all rules.
    public let keywordCount: Int
    /// Number of regexes over all rules.
    public let regexCount: Int

    let tables: CompiledTables
    let keywords: KeywordSet<ScanTag>
    let tokens: TokenSet<ScanTag>
    /// Distinguishes this set from every other one loaded by this process (see ``RuleScratch``).
    let serial: UInt64
    private static let serials = Atomic<UInt64>(0)
    /// Rules to run per ``RecordKind/slot``, in evaluation order. Slot 5 (other collections) holds
    /// every rule with a collection kind; the event's collection is matched against them.
    let rulesBySlot: [[Int]]
    /// Collections whose records some rule reads (named kinds and exact NSIDs), and the globs of
    /// `on:` entries: decided once here, since the decoder asks for every op.
    let collectionsRead: Set<String>
    let collectionGlobsRead: [String]
    /// Whether any rule looks at handles (identity events).
    public let readsHandles: Bool
    /// Collection globs per rule (empty for rules without collection kinds).
    let collectionGlobs: [[String]]
    /// Per slot: the fields the keyword automaton scans on every event of that slot.
    let scanFieldsBySlot: [FieldSet]
    /// Rules to open when a gate item happens (see ``GateItem``): per keyword matcher, per regex
    /// (its literal) and per rule (it fired).
    let gatedByKeywords: GateIndex
    let gatedByLiteral: GateIndex
    let gatedByRule: GateIndex
    let ruleMasks: RuleMasks
    private let indexByID: [String: Int]

    init(
        rules: [RuleInfo], tables: CompiledTables, keywords: KeywordSet<ScanTag>, tokens: TokenSet<ScanTag>,
        files: [String], labelDefinitions: LabelDefinitions? = nil, warnings: [RuleDiagnostic] = []
    ) {
        self.rules = rules
        self.tables = tables
        self.keywords = keywords
        self.tokens = tokens
        self.files = files
        self.labelDefinitions = labelDefinitions
        self.warnings = warnings
        serial = Self.serials.add(1, ordering: .relaxed).newValue
        keywordCount = keywords.count - tables.literalEntries + tokens.count
        regexCount = tables.regexes.count
        var indexByID: [String: Int] = [:]
        for (index, rule) in rules.enumerated() { indexByID[rule.id] = index }
        self.indexByID = indexByID
        collectionGlobs = rules.map { rule in
            rule.kinds.compactMap { if case .collection(let glob) = $0 { glob } else { nil } }
        }
        var rulesBySlot = [[Int]](repeating: [], count: RecordKind.slotCount)
        for (index, rule) in rules.enumerated() {
            for slot in 0..<RecordKind.slotCount where rule.applies(toSlot: slot) {
                rulesBySlot[slot].append(index)
            }
        }
        self.rulesBySlot = rulesBySlot
        var collections = Set<String>()
        var globs: [String] = []
        for kind in rules.flatMap(\.kinds) {
            switch kind {
            case .collection(let glob) where glob == "*" || glob.hasSuffix(".*"): globs.append(glob)
            case .collection(let nsid): collections.insert(nsid)
            case .handle: break
            default: if let collection = kind.collection { collections.insert(collection) }
            }
        }
        collectionsRead = collections
        collectionGlobsRead = globs
        readsHandles = rules.contains { $0.kinds.contains(.handle) }
        var byKeywords = [[Int32]](repeating: [], count: tables.matcherRegexStart.count)
        var byLiteral = [[Int32]](repeating: [], count: tables.regexes.count)
        var byRule = [[Int32]](repeating: [], count: rules.count)
        for (rule, plan) in tables.plans.enumerated() where plan.gateCount > 0 {
            let start = Int(plan.gateStart)
            for item in tables.gateItems[start..<start + Int(plan.gateCount)] {
                switch item.kind {
                case .keywords: byKeywords[Int(item.index)].append(Int32(rule))
                case .literal: byLiteral[Int(item.index)].append(Int32(rule))
                case .rule: byRule[Int(item.index)].append(Int32(rule))
                }
            }
        }
        gatedByKeywords = GateIndex(byKeywords)
        gatedByLiteral = GateIndex(byLiteral)
        gatedByRule = GateIndex(byRule)
        ruleMasks = RuleMasks(rules: rules, plans: tables.plans, negating: tables.negateOnNoMatch, bySlot: rulesBySlot)
        scanFieldsBySlot = (0..<RecordKind.slotCount).map { slot in
            rulesBySlot[slot].reduce(FieldSet()) { $0.union(tables.scanFields[$1 * RecordKind.slotCount + slot]) }
        }
    }

    /// A set with no rules: every evaluation gives empty effects.
    public static let empty = RuleSet(
        rules: [], tables: CompiledTables(), keywords: KeywordSetBuilder<ScanTag>().build(),
        tokens: TokenSetBuilder<ScanTag>().build(), files: [])

    /// The label values the rules emit (dry runs included), sorted: with the global ones among
    /// them, what a service record's `policies.labelValues` lists.
    public var emittedValues: [String] { Set(rules.compactMap(\.label)).sorted() }

    /// Each threshold rule's window in microseconds, by rule id: of the rules on reports, or of
    /// the rules on the stream. What the stored hits of each may still be counted against.
    public func thresholdWindows(onReports: Bool) -> [String: Int64] {
        var windows: [String: Int64] = [:]
        for rule in rules where rule.kinds.contains(.report) == onReports {
            if let threshold = rule.threshold { windows[rule.id] = threshold.within.microseconds }
        }
        return windows
    }

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
    public static func load(
        _ sources: RuleSources, options: LoadOptions = LoadOptions()
    ) throws(RuleLoadError) -> RuleSet {
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

    /// Number of regexes that run only on texts containing one of their literals; the others run
    /// on every value of the fields they read.
    public var prefilteredRegexCount: Int { tables.regexPrefiltered.count(where: { $0 }) }

    /// One line for logs and `labeler rules check`: counts of rules, keywords, regexes and files.
    public var summary: String {
        "\(rules.count) rules, \(keywordCount) keywords (\(tokens.count) as exact tokens), \(regexCount) regexes "
            + "(\(prefilteredRegexCount) with a literal prefilter), \(files.count) files"
            + (labelDefinitions.map { ", \($0.definitions.count) label definitions" } ?? "")
    }
}

extension RuleInfo {
    /// Whether events of kind slot `slot` run this rule: a named kind in `on:`, or a collection
    /// glob (for other collections, and for named kinds whose collection it matches).
    func applies(toSlot slot: Int) -> Bool {
        kinds.contains { RecordKind.kind($0, appliesTo: slot) }
    }
}

/// Bit sets over rule indices (64 rules per word) that select the rules to visit on an event.
struct RuleMasks: Sendable {
    let words: Int
    /// Per slot, `words` words: the rules of that kind of event.
    let slots: [UInt64]
    /// Rules without a gate: always evaluated.
    let ungated: [UInt64]
    /// Rules with `on_no_match: negate`: visited on updates even when their gate stays shut.
    let negating: [UInt64]

    init(rules: [RuleInfo], plans: [RulePlan], negating flags: [Bool], bySlot: [[Int]]) {
        words = (rules.count + 63) / 64
        func mask(_ indices: some Sequence<Int>) -> [UInt64] {
            var bits = [UInt64](repeating: 0, count: (rules.count + 63) / 64)
            for index in indices { bits[index >> 6] |= 1 << UInt64(index & 63) }
            return bits
        }
        slots = bySlot.flatMap { mask($0) }
        ungated = mask(plans.indices.filter { plans[$0].gateCount < 0 })
        negating = mask(flags.indices.filter { flags[$0] })
    }
}

/// For each gate item, the rules it opens, as one flat array (`rules[starts[i] ..< starts[i + 1]]`).
struct GateIndex: Sendable {
    private let starts: [Int32]
    private let rules: [Int32]

    init(_ lists: [[Int32]]) {
        var starts: [Int32] = [0]
        for list in lists { starts.append(starts[starts.count - 1] + Int32(list.count)) }
        self.starts = starts
        rules = lists.flatMap { $0 }
    }

    /// Calls `body` with every rule opened by item `index`.
    @inline(__always)
    func forEach(_ index: Int, _ body: (Int) -> Void) {
        for position in Int(starts[index])..<Int(starts[index + 1]) { body(Int(rules[position])) }
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
