import ATProto
import ArgumentParser
import LabelStore
import Labeler
import Rules

extension LabelsCommand {
    /// `labeler labels retract`: takes back, through the label writer, every applied label whose
    /// latest application matches; resumable (see `LabelStore+Retractions.swift`).
    struct Retract: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Negate every applied label whose latest application matches (undo a rule's labels).",
            discussion: """
                The labels are chosen once, when a retraction begins, and negated in batches through \
                the label writer, like `label negate`: rules do not apply them again until a person \
                does, and `labels explain` shows the retraction. A run stopped at any moment \
                (Ctrl-C, SIGKILL, a crash) is finished by running the same command again: no label \
                is negated twice and none is missed. Safe while the service runs; its subscribers \
                receive the negations.
                """)

        @Option(help: "Labels whose latest application was by this rule.") var rule: String?
        @Option(help: "Labels with this value.") var val: String?
        @Option(help: "An exact at:// URI or DID, or a prefix ending in *.") var uri: String?
        @Option(help: "Only labels last applied at or after this datetime (RFC 3339).") var since: String?
        @Option(help: "Why (kept in the history with the retraction).") var reason: String?
        @Option(help: "Who is acting (kept in the history).") var actor = ProcessInfoLite.environment("USER") ?? "cli"
        @Option(help: "Labels negated per transaction.") var batch = 500
        @Flag(help: "Count what would be retracted and show samples; change nothing.") var dryRun = false
        @Option(help: "Samples shown by --dry-run.") var samples = 10
        @Flag(help: "One JSON object.") var json = false
        @Option(help: "SQLite database (default: the configuration's).") var db: String?
        @Option(help: "Signing key file (default: the configuration's).") var key: String?
        @OptionGroup var file: ConfigurationOption
        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            guard rule != nil || val != nil || uri != nil else {
                throw ValidationError("say which labels: --rule, --val or --uri (any of them, combined with AND)")
            }
            if let val, let problem = LabelValue.problem(with: val) { throw ValidationError(problem) }
            if let since, (try? Datetime(since)) == nil {
                throw ValidationError("--since \(since) is not an RFC 3339 datetime (like 2026-12-01T00:00:00Z)")
            }
            guard batch > 0 else { throw ValidationError("--batch must be at least 1") }
            guard samples >= 0 else { throw ValidationError("--samples cannot be negative") }
        }

        var criteria: LabelStore.RetractionCriteria {
            LabelStore.RetractionCriteria(ruleID: rule, val: val, uri: uri, since: since.flatMap { try? Datetime($0) })
        }

        func run() async throws {
            var configured = try file.load()
            if let db { configured.storePath = db }
            if let key { configured.signingKey = key }
            try logging.setUp(configured)
            let assembly = LabelerAssembly(configuration: configured, environment: ProcessInfoLite.environmentVariables)
            let logger = CommandLineLogging.logger("labeler.retract")
            let criteria = self.criteria
            do {
                let store = try openExistingStore(configured.storePath)
                let signingKey = try assembly.signingKey(createIfAbsent: false, logger: logger)
                let src = try assembly.src(signingWith: signingKey, withoutDID: .allow)
                if dryRun {
                    try preview(try store.retractionCandidates(src: src, criteria), criteria: criteria)
                    return
                }
                var resumed = true
                var retraction = try store.unfinishedRetraction(criteria)
                if retraction == nil {
                    resumed = false
                    retraction = try store.beginRetraction(
                        criteria, targets: try store.retractionCandidates(src: src, criteria), at: .now())
                }
                guard let retraction else { return }
                let writer = try assembly.labelWriter(
                    store: store, key: signingKey, src: src, logger: logger, configuration: .init(attempts: 3),
                    globalBudget: true)
                let running = Task { await writer.run() }
                defer { running.cancel() }
                let outcome = try await negate(retraction, store: store, writer: writer)
                running.cancel()
                await running.value
                report(retraction, outcome: outcome, resumed: resumed)
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure("\(error)")
            }
        }

        struct Outcome {
            var negated = 0
            /// Targets whose label changed after the retraction began (negated by an earlier run
            /// of it, or by anyone else): left alone.
            var skipped = 0
            /// Negations the global budget had no room for: they wait in the queue, ahead of
            /// rules' labels, and `labeler run` sends them as the budget allows.
            var queued = 0
        }

        /// Negates the targets after the retraction's progress, a batch per transaction, noting
        /// the progress after each.
        func negate(_ retraction: LabelStore.Retraction, store: LabelStore, writer: LabelWriter) async throws
            -> Outcome
        {
            var outcome = Outcome()
            var doneThrough = retraction.doneThrough
            let why = "retraction \(retraction.id) (\(retraction.criteria))" + (reason.map { ": \($0)" } ?? "")
            while true {
                let targets = try store.retractionTargets(of: retraction.id, after: doneThrough, limit: batch)
                guard let last = targets.last else { break }
                var changes: [LabelChange] = []
                for (target, unchanged) in targets {
                    guard unchanged else {
                        outcome.skipped += 1
                        continue
                    }
                    changes.append(
                        LabelChange(
                            action: .negate, subject: try LabelSubject(target.uri), cid: target.cid, val: target.val,
                            origin: .manual(actor: actor), reason: why))
                }
                let submitted = try await writer.submitReporting(changes)
                outcome.negated += submitted.rows.count
                outcome.queued += submitted.queued
                doneThrough = last.target.ordinal
                try store.noteRetractionProgress(retraction.id, doneThrough: doneThrough, finishedAt: nil)
            }
            try store.noteRetractionProgress(retraction.id, doneThrough: doneThrough, finishedAt: .now())
            return outcome
        }

        func report(_ retraction: LabelStore.Retraction, outcome: Outcome, resumed: Bool) {
            if json {
                print(
                    "{\"retraction\":\(retraction.id),\"criteria\":\(DataModelJSON.quote(retraction.criteria)),"
                        + "\"targets\":\(retraction.targets),\"negated\":\(outcome.negated),"
                        + "\"skipped\":\(outcome.skipped),\"queued\":\(outcome.queued),\"resumed\":\(resumed)}")
                return
            }
            var line = "retraction \(retraction.id) (\(retraction.criteria)): negated \(outcome.negated)"
            if outcome.queued > 0 {
                line += ", queued \(outcome.queued) for the global budget (labeler run sends them)"
            }
            if outcome.skipped > 0 { line += ", skipped \(outcome.skipped) changed since it began" }
            line += " of \(retraction.targets)"
            if resumed { line += " (resumed)" }
            print(line)
        }

        func preview(_ targets: [LabelStore.RetractionTarget], criteria: LabelStore.RetractionCriteria) throws {
            let shown = targets.prefix(samples)
            if json {
                let items = shown.map { target in
                    "{\"uri\":\(DataModelJSON.quote(target.uri)),"
                        + "\"cid\":\(target.cid.map(DataModelJSON.quote) ?? "null"),"
                        + "\"val\":\(DataModelJSON.quote(target.val)),"
                        + "\"rule\":\(target.ruleID.map(DataModelJSON.quote) ?? "null"),"
                        + "\"applied_at\":\(DataModelJSON.quote(target.appliedAt))}"
                }
                print(
                    "{\"criteria\":\(DataModelJSON.quote(criteria.description)),\"count\":\(targets.count),"
                        + "\"samples\":[\(items.joined(separator: ","))]}")
                return
            }
            print("would negate \(targets.count) labels (\(criteria))")
            for target in shown {
                print(
                    "  \(target.uri)\(target.cid.map { " cid=\($0)" } ?? "") \(target.val)"
                        + " rule=\(target.ruleID ?? "manual") applied \(target.appliedAt)")
            }
        }
    }
}
