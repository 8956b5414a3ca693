import ATCrypto
import ATProto
import Firehose
import KeyedScheduler
import LabelStore
import Logging
import Rules

/// One side of `labeler rules diff`: a rule set run over captures through the pipeline `labeler
/// replay --db` runs (decoder, scheduler, rules with in-memory threshold counts, label writer),
/// into a new database, signed with a throwaway key. Running the real pipeline rather than a
/// shortcut is what makes the end state the one a replay would leave, writer rules included (a
/// negation of a label never applied changes nothing), at replay speed.
public struct RuleDiffRun: Sendable {
    /// The run's database.
    public let store: LabelStore
    /// The `src` of its labels.
    public let src: String
    public let summary: IngestPipeline.Summary
    /// Record URIs and account DIDs the captures hold (with `collectingSubjects`), to compare a
    /// database's labels on the same records only.
    public let subjects: Set<String>

    /// Runs `rules` over `captures` into a new database at `databasePath`.
    /// - Parameters:
    ///   - progress: shows how far the run is, by the bytes read of `totalBytes`.
    public static func run(
        captures: [String], rules: RuleSet, databasePath: String, concurrency: Int = 8,
        collectingSubjects: Bool = false, logger: Logger, progress: ProgressReporter<ContinuousClock>? = nil,
        totalBytes: Int64? = nil
    ) async throws -> RuleDiffRun {
        let store = try LabelStore(path: databasePath, durability: .normal)
        let key = SigningKey.generate(.secp256k1)
        let src = key.publicKey.didKey
        let evaluator = RuleEvaluator(holder: RuleSetHolder(rules))
        let decoder = RepoEventDecoder(decodesRecords: { rules.readsRecords(of: $0) })
        let source = CaptureSource(paths: captures, decoder: decoder)
        // The queue `labeler replay` uses: a capture waits for the pipeline at no cost.
        let scheduler = KeyedSchedulerConfiguration(
            concurrency: concurrency, queueLimit: 2_000, perKeyBacklogLimit: 250)
        let pipeline = IngestPipeline(
            source: source, store: store, configuration: .init(scheduler: scheduler, verification: nil),
            logger: logger)
        let writer = try LabelWriter(
            store: store, src: src, key: key, configuration: .init(), logger: logger, eventSource: source.cursorName)
        let labeler = EventLabeler(evaluator: evaluator, writer: writer, logger: logger)
        let subjects = Locked(Set<String>())
        let writerTask = Task { await writer.run() }
        let progressTask = progress.map { reporter in
            Task {
                await reporter.run {
                    WorkProgress(
                        count: source.counts.messages, bytes: Int64(source.fileBytesRead), totalBytes: totalBytes)
                }
            }
        }
        defer {
            writerTask.cancel()
            progressTask?.cancel()
        }
        let summary = try await pipeline.run(
            handler: { seq, event in
                if collectingSubjects { subjects.withLock { $0.formUnion(Self.subjects(of: event)) } }
                try await labeler.handle(seq: seq, event: event)
            },
            cursorAdvanced: { writer.cursorAdvanced(to: $0) }, restartSource: { try await writer.restartSource() })
        writerTask.cancel()
        await writerTask.value
        progressTask?.cancel()
        await progressTask?.value
        progress?.finish()
        return RuleDiffRun(store: store, src: src, summary: summary, subjects: subjects.withLock { $0 })
    }

    /// The account and the records an event is about.
    static func subjects(of event: RepoEvent) -> [String] {
        switch event {
        case .commit(let commit):
            [commit.repo.rawValue] + commit.ops.map { "at://\(commit.repo.rawValue)/\($0.collection)/\($0.rkey)" }
        case .identity(let identity): [identity.did.rawValue]
        default: []
        }
    }

    /// The labels in force at the end of the run.
    public func applied() throws -> [RuleDiff.Applied] {
        try Self.applied(in: store, src: src)
    }

    /// The labels of `src` in force in `store` that a rule applied last (labels people applied
    /// are no rule's doing), in the order they were written; with `subjects`, only those on one of
    /// them (an account label on its DID, a record label on its URI).
    public static func applied(in store: LabelStore, src: String, within subjects: Set<String>? = nil) throws
        -> [RuleDiff.Applied]
    {
        try store.retractionCandidates(src: src, LabelStore.RetractionCriteria()).compactMap { label in
            guard let ruleID = label.ruleID, subjects?.contains(label.uri) != false else { return nil }
            return RuleDiff.Applied(uri: label.uri, val: label.val, ruleID: ruleID)
        }
    }

    /// The field and matched text of the latest application of `key` in `store`, from its history.
    public static func details(in store: LabelStore, of key: RuleDiff.Key) -> (field: String?, snippet: String?)? {
        guard let subject = try? LabelSubject(key.uri), let history = try? store.history(of: subject) else {
            return nil
        }
        return history.last { $0.val == key.val && $0.action == .apply }.map { ($0.field, $0.snippet) }
    }
}
