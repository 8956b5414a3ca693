import ATCrypto
import ATProto
import ArgumentParser
import Firehose
import Identity
import KeyedScheduler
import LabelStore
import Labeler
import Logging
import Rules

#if canImport(Glibc)
import Glibc
#endif

extension VerifyMode: ExpressibleByArgument {}

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run the pipeline over capture files, as fast as possible.",
        discussion: """
            The captures go through the same decoder, scheduler, rules and label writer as a live \
            relay. With --db the labels are signed (with --key, created when absent) and stored with \
            the cursor, so replaying the same capture into the same database again handles nothing \
            twice. Without --db the labels are only counted.
            """
    )

    @Argument(help: "Capture files (plain, gzip or zstd).")
    var captures: [String]

    @Option(help: "Configuration file: its rules, database, key, DID and concurrency, unless given here.")
    var config: String?

    @Option(help: "SQLite database to store labels and the cursor in (default: none, or the configuration's).")
    var db: String?

    @Option(help: "Rules folder (default: rules, when it exists, or the configuration's).")
    var rules: String?

    @Option(help: "Signing key file, with --db (created, mode 0600, when absent).")
    var key: String?

    @Option(help: "The labeler's DID, the labels' src (default: the key's did:key).")
    var did: String?

    @Option(help: "Accounts processed at once (1 = sequential; default 8).")
    var concurrency: Int?

    @Option(
        help: """
            Check every commit against its account's key: off, log (count failures) or enforce \
            (reject them); default: the configuration's source.verify, else off. DIDs resolve \
            through identity.plc_url (the configuration's, or LABELER_IDENTITY_PLC_URL).
            """)
    var verify: VerifyMode?

    @Flag(help: "End with one JSON summary object.")
    var json = false

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var progressOptions: ProgressOptions

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
    }

    func run() async throws {
        var settings = self
        // Without a file, the `identity.*` and `source.verify` settings still come from `LABELER_*`.
        var identity: LabelerConfiguration
        do { identity = try LabelerConfiguration.load(environment: ProcessInfoLite.environmentVariables) } catch {
            throw CommandFailure(error.description)
        }
        // Only a file named here or by LABELER_CONFIG: a replay stores labels only when asked to.
        let named =
            config
            ?? ProcessInfoLite.environment(LabelerConfiguration.environmentVariable).flatMap { $0.isEmpty ? nil : $0 }
        if let config = named {
            let file: LabelerConfiguration
            do {
                file = try LabelerConfiguration.load(
                    path: config, required: true, environment: ProcessInfoLite.environmentVariables)
            } catch {
                throw CommandFailure(error.description)
            }
            settings.db = db ?? file.storePath
            settings.rules = rules ?? file.rulesPath
            settings.key = key ?? file.signingKey
            settings.did = did ?? (file.did.isEmpty ? nil : file.did)
            settings.concurrency = concurrency ?? file.concurrency
            settings.verify = verify ?? file.sourceVerify
            identity = file
        }
        identity.sourceVerify = settings.verify ?? identity.sourceVerify
        try logging.setUp(identity)
        let logger = CommandLineLogging.logger("labeler.replay")
        try await settings.replay(identity: identity, logger: logger)
    }

    /// - Parameter identity: the `identity.*` and `source.verify` settings to verify with.
    func replay(identity: LabelerConfiguration, logger: Logger) async throws {
        let concurrency = self.concurrency ?? 8
        var configuration = LabelerConfiguration()
        configuration.signingKey = key ?? KeysCommand.defaultPath
        configuration.did = did ?? ""
        if let db { configuration.storePath = db }
        let assembly = LabelerAssembly(configuration: configuration, environment: [:])
        let store: LabelStore?
        do { store = db == nil ? nil : try assembly.openStore() } catch { throw CommandFailure(error.description) }
        for path in captures {
            do { _ = try CaptureReader(path: path) } catch { throw CommandFailure(error.description) }
        }
        let ruleSet = try loadRules()
        let evaluator = RuleEvaluator(holder: RuleSetHolder(ruleSet))
        let holder = evaluator.holder
        let decoder = RepoEventDecoder(decodesRecords: { holder.current.readsRecords(of: $0) })
        let source = CaptureSource(paths: captures, decoder: decoder)
        // A capture waits for the pipeline at no cost, so the queue need not absorb bursts as a
        // live relay's does: a shallow one keeps the workers busy, and memory low (each queued
        // event holds its undecoded message).
        let scheduler = KeyedSchedulerConfiguration(
            concurrency: concurrency, queueLimit: 2_000, perKeyBacklogLimit: 250)
        // With --verify, an identity resolver (as `run` has) and the gate in front of the rules.
        let verifying = LabelerAssembly(configuration: identity, environment: [:])
        var resolver: IdentityResolver? = nil
        if identity.sourceVerify != .off {
            do { resolver = try verifying.identityResolver() } catch { throw CommandFailure(error.description) }
        }
        var gate: VerificationGate? = nil
        if let resolver {
            do { gate = try verifying.verificationGate(resolver: resolver, logger: logger, store: store) } catch {
                throw CommandFailure(error.description)
            }
        }
        let pipeline = IngestPipeline(
            source: source, store: store, configuration: .init(scheduler: scheduler, verification: gate),
            logger: logger)
        // With a database, the writer stores the labels and, with them, the pipeline's cursor.
        let writer: LabelWriter?
        do {
            writer = try store.map { store throws(LabelerAssembly.Failure) in
                let signingKey = try assembly.signingKey(createIfAbsent: true, logger: logger)
                return try assembly.labelWriter(
                    store: store, key: signingKey, src: try assembly.src(signingWith: signingKey, withoutDID: .allow),
                    logger: logger, eventSource: source.cursorName)
            }
        } catch {
            throw CommandFailure(error.description)
        }
        let labeler = EventLabeler(
            evaluator: evaluator, writer: writer, identity: resolver, logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        // Through the capture files by their bytes (compressed or not), so the percentage and
        // the ETA hold for any mix of files.
        let reporter = progressOptions.reporter(unit: "messages")
        let totalBytes = totalSize(captures)
        let progress = Task {
            await reporter.run {
                WorkProgress(
                    count: source.counts.messages, bytes: Int64(source.fileBytesRead), totalBytes: totalBytes)
            }
        }
        let writerTask = writer.map { writer in Task { await writer.run() } }
        var cursorAdvanced: (@Sendable (Int64) -> Void)? = nil
        var restartSource: (@Sendable () async throws -> Void)? = nil
        if let writer {
            cursorAdvanced = { writer.cursorAdvanced(to: $0) }
            restartSource = { try await writer.restartSource() }
        }
        let summary: IngestPipeline.Summary
        do {
            summary = try await pipeline.run(
                handler: { seq, event in try await labeler.handle(seq: seq, event: event) },
                cursorAdvanced: cursorAdvanced, restartSource: restartSource)
        } catch {
            progress.cancel()
            await progress.value
            reporter.finish()
            writerTask?.cancel()
            throw CommandFailure("\(error)")
        }
        if let writerTask {
            writerTask.cancel()
            await writerTask.value
        }
        progress.cancel()
        await progress.value
        reporter.finish()
        let elapsed = clock.now - start
        let seconds = elapsed.inSeconds
        let counts = source.counts
        let errors = counts.undecodable + summary.undecodable + summary.rejected + summary.failed
        let rules = labeler.totals
        var fields: [(String, String)] = [
            ("events", "\(summary.events)"), ("commits", "\(summary.commits)"), ("records", "\(summary.records)"),
            ("labels", "\(rules.labels)"), ("errors", "\(errors)"), ("seconds", fixed(seconds, 3)),
            ("events_per_second", "\(seconds > 0 ? Int(Double(summary.events) / seconds) : 0)"),
            ("labels_stored", writer.map { "\($0.totals.labels)" } ?? "null"),
            ("negations_requested", "\(rules.negations)"), ("dry_run", "\(rules.dryRun)"),
            ("rule_errors", "\(rules.ruleErrors)"),
            // Rules' budgets live in the database: with --db, what they withheld and which are
            // tripped at the end (the same as `labeler run` on the same events).
            ("withheld", writer.map { "\($0.totals.withheld)" } ?? "null"),
            (
                "rules_tripped",
                store.map { store in
                    let ids = ((try? store.trips()) ?? []).map { DataModelJSON.quote($0.trip.ruleID) }
                    return "[" + ids.joined(separator: ",") + "]"
                } ?? "null"
            ),
            // Of `errors`: events rejected by the decoder, or by verification (`--verify enforce`).
            ("rejected", "\(summary.rejected)"),
            (
                "by_rule",
                "{" + rules.byRule.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
                    + "}"
            ),
        ]
        if let gate {
            let verified = gate.counts
            fields.append(("verified", "\(verified.verified)"))
            fields.append(("verify_failed", "\(verified.failures)"))
        }
        if json {
            print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        } else {
            // Values aligned after the longest key (`negations_requested`), so none runs into its value.
            let width = (fields.map(\.0.count).max() ?? 0) + 2
            for (key, value) in fields { print(key + String(repeating: " ", count: width - key.count) + value) }
        }
    }
}

extension ReplayCommand {
    /// The rule set to run: `--rules`, or `rules/` when it exists, or none.
    func loadRules() throws -> RuleSet {
        let directory = rules ?? "rules"
        if rules == nil && !directoryExists(directory) { return .empty }
        do {
            return try RuleSet.load(directory: directory)
        } catch {
            for diagnostic in error.diagnostics { writeToStandardError("\(diagnostic)\n") }
            throw CommandFailure("\(directory): the rules do not load (\(error.diagnostics.count) problems)")
        }
    }
}

func directoryExists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

/// `value` with `digits` decimals, without Foundation.
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale)
    let fraction = String(scaled % Int(scale))
    return "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
}
