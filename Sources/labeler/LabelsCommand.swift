import ATCrypto
import ATProto
import ArgumentParser
import LabelStore
import Labeler
import Logging
import Rules

#if canImport(Glibc)
import Glibc
#endif

/// Opens an existing database (inspection must not create an empty one by mistake).
func openExistingStore(_ path: String) throws -> LabelStore {
    guard access(path, F_OK) == 0 else { throw CommandFailure("\(path): no such database (is --db right?)") }
    do { return try LabelStore(path: path) } catch { throw CommandFailure(error.description) }
}

/// `text` as a label subject; otherwise the command stops with one line saying why.
func labelSubject(_ text: String) throws -> LabelSubject {
    do { return try LabelSubject(text) } catch { throw CommandFailure(error.description) }
}

/// A label in its atproto JSON form (`sig` as `{"$bytes": …}`), one line.
func labelJSON(_ label: Label) -> String { DataModelJSON.serialize(label.cborValue()) }

struct LabelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "labels",
        abstract: "Inspect stored labels, and retract them in bulk (safe while the service runs).",
        subcommands: [List.self, Explain.self, Stats.self, Tail.self, Retract.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List current labels in stream order.")

        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption
        @Option(help: "An exact URI, or a prefix ending in *.") var uri: String?
        @Option(help: "Only this label value.") var val: String?
        @Option(help: "Only labels from this labeler DID.") var src: String?
        @Option(help: "Only labels after this stream seq.") var since: Int64 = 0
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "One atproto JSON label per line.") var json = false

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let rows: [StoredLabel]
            do {
                rows = try store.labels(matching: .init(uri: uri, val: val, src: src, since: since, limit: limit))
            } catch {
                throw CommandFailure(error.description)
            }
            for row in rows {
                if json {
                    print(labelJSON(row.label))
                } else {
                    let l = row.label
                    print(
                        "\(row.seq)\t\(l.isNegation ? "-" : "+")\(l.val)\t\(l.uri)\(l.cid.map { " @\($0)" } ?? "")\t\(l.cts)\(l.exp.map { " exp \($0)" } ?? "")"
                    )
                }
            }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Why a record or account is labeled: its history.")

        @Argument(help: "An at:// URI or a DID.") var uri: String
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption

        func run() throws {
            let subject = try labelSubject(uri)
            let store = try openExistingStore(try db ?? file.load().storePath)
            let history: [LabelHistoryEntry]
            do { history = try store.history(of: subject) } catch { throw CommandFailure(error.description) }
            guard !history.isEmpty else {
                print("no labels recorded for \(subject)")
                return
            }
            for entry in history {
                let who = entry.ruleID.map { "rule \($0)" } ?? "manual by \(entry.actor ?? "unknown")"
                var line = "\(entry.time)  seq \(entry.seq)  \(entry.action.rawValue) \(entry.val)  \(who)"
                if let field = entry.field { line += "  \(field)" }
                if let snippet = entry.snippet { line += " \(DataModelJSON.quote(snippet))" }
                if let report = entry.reportID { line += "  report \(report)" }
                if let reason = entry.reason { line += "  reason: \(reason)" }
                print(line)
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Counts by value and by rule, last seq, stored cursors.")

        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption
        @Flag(help: "One JSON object.") var json = false

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let stats: LabelStore.Statistics
            do { stats = try store.statistics() } catch { throw CommandFailure(error.description) }
            let cursor = stats.cursors.first
            if json {
                func object(_ counts: [String: Int]) -> String {
                    "{"
                        + counts.sorted { $0.key < $1.key }.map { "\(DataModelJSON.quote($0.key)):\($0.value)" }.joined(
                            separator: ",") + "}"
                }
                let cursors =
                    "{" + stats.cursors.map { "\(DataModelJSON.quote($0.source)):\($0.seq)" }.joined(separator: ",")
                    + "}"
                print(
                    "{\"labels\":\(stats.labels),\"negated\":\(stats.negated),\"last_seq\":\(stats.lastSeq),"
                        + "\"cursor\":\(cursor.map { String($0.seq) } ?? "null"),\"cursors\":\(cursors),"
                        + "\"by_val\":\(object(stats.byValue)),\"by_rule\":\(object(stats.byRule))}")
            } else {
                print("labels    \(stats.labels) applied, \(stats.negated) negated")
                print("last seq  \(stats.lastSeq)")
                for c in stats.cursors { print("cursor    \(c.source): \(c.seq) (stored \(c.updatedAt))") }
                for (val, n) in stats.byValue.sorted(by: { $0.value > $1.value }) { print("value     \(val): \(n)") }
                for (rule, n) in stats.byRule.sorted(by: { $0.value > $1.value }) { print("rule      \(rule): \(n)") }
            }
        }
    }
}

/// A label writer of the command's own on the configured database (the same planning, signing
/// and commit as the service's; a commit planned while the service wrote is planned again), for
/// the commands that change labels without the running service.
struct CommandLabelWriter {
    let assembly: LabelerAssembly
    let key: SigningKey
    /// The labels' `src`: the configured DID, or the key's did:key when allowed.
    let src: String
    let logger: Logger

    init(configuration: LabelerConfiguration, allowDidKeySrc: Bool, logger: Logger) throws {
        assembly = LabelerAssembly(configuration: configuration, environment: ProcessInfoLite.environmentVariables)
        self.logger = logger
        do {
            key = try assembly.signingKey(createIfAbsent: false, logger: logger)
            src = try assembly.src(signingWith: key, withoutDID: allowDidKeySrc ? .allow : .refuse)
        } catch {
            throw CommandFailure(error.description)
        }
    }

    /// The configured database, created when absent.
    func openStore() throws -> LabelStore {
        do { return try assembly.openStore() } catch { throw CommandFailure(error.description) }
    }

    /// Writes `changes` and returns the rows written (none for changes that change nothing, or
    /// that wait in the global budget's queue: `labeler run` sends those as it makes room).
    func submit(_ changes: [LabelChange], to store: LabelStore) async throws -> LabelWriter.Submitted {
        do {
            let writer = try assembly.labelWriter(
                store: store, key: key, src: src, logger: logger, configuration: .init(attempts: 3),
                globalBudget: true)
            let running = Task { await writer.run() }
            defer { running.cancel() }
            let rows = try await writer.submitReporting(changes)
            running.cancel()
            await running.value
            return rows
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}

struct LabelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "label",
        abstract: "Apply or negate a label by hand, through the running service or into the database.",
        discussion: """
            When the configuration (config/labeler.yaml, LABELER_*) has an admin token and the \
            service answers, the change goes through its admin endpoint and writer, and reaches \
            subscribers at once. Otherwise it is signed with --key and written to --db directly.
            """,
        subcommands: [Add.self, Negate.self]
    )

    struct Options: ParsableArguments {
        @Argument(help: "An at:// URI (a record) or a DID (an account).") var uri: String
        @Argument(help: "The label value.") var val: String
        @Option(help: "Pin one version of the record.") var cid: String?
        @Option(help: "Why (kept in the history).") var reason: String?
        @Option(help: "Who is acting (kept in the history).") var actor = ProcessInfoLite.environment("USER") ?? "cli"
        @Option(help: "SQLite database (default: the configuration's).") var db: String?
        @Option(help: "Signing key file (default: the configuration's).") var key: String?
        @Option(help: "The labeler's DID (default: the configuration's, else the key's did:key).") var did: String?
        @Option(help: "A running service's address (default: from the configuration).") var server: String?
        @Flag(help: "Sign with the key's did:key as src when no DID is configured (the network ignores such labels).")
        var allowDidKeySrc = false
        @OptionGroup var file: ConfigurationOption
        @OptionGroup var logging: LoggingOptions

        /// The subject, checked (by `validate` before anything runs).
        var subject: LabelSubject {
            get throws { try labelSubject(uri) }
        }

        func validate() throws {
            _ = try self.subject
            if let problem = LabelValue.problem(with: val) { throw ValidationError(problem) }
            if let cid, (try? CID(string: cid)) == nil { throw ValidationError("--cid \(cid) is not a CID") }
            if let did, !DID.isValid(did) { throw ValidationError("--did \(did) is not a DID") }
        }

        /// Through the running service's admin endpoint when the configuration has an admin
        /// token and the service answers; else straight into the database (a busy timeout
        /// waits for the service's transactions). Returns whether the service took it.
        func send(_ action: LabelChange.Action, exp: String?, hours: Int64?) async throws -> Bool {
            let configured = try file.load()
            let subject = try self.subject
            // Without a cid only an account can be named (a `repoRef`); a record needs a `strongRef`.
            guard let endpoint = AdminEndpoint.configured(server: server, configuration: configured),
                cid != nil || subject.account != nil, exp == nil || hours != nil
            else { return false }
            // The event's author: the labeler's DID (the actor's name goes in the comment).
            guard let createdBy = did ?? (configured.did.isEmpty ? nil : configured.did) else { return false }
            let comment = "by \(actor)" + (reason.map { ": \($0)" } ?? "")
            switch try await endpoint.emit(
                action: action, subject: subject, cid: cid, val: val, durationInHours: hours, comment: comment,
                createdBy: createdBy)
            {
            case .done(let answer):
                print("through the running service: \(answer)")
                return true
            case .notRunning:
                return false
            }
        }

        /// Straight into the database, through a label writer of its own (the same planning,
        /// signing and commit as the service's; a commit planned while the service wrote is
        /// planned again).
        func write(_ action: LabelChange.Action, exp: String?) async throws {
            var configured = try file.load()
            if let key { configured.signingKey = key }
            if let db { configured.storePath = db }
            if let did { configured.did = did }
            try logging.setUp(configured)
            let change = LabelChange(
                action: action, subject: try subject, cid: cid, val: val, exp: exp, origin: .manual(actor: actor),
                reason: reason)
            let writer = try CommandLabelWriter(
                configuration: configured, allowDidKeySrc: allowDidKeySrc,
                logger: CommandLineLogging.logger("labeler.label"))
            let outcome = try await writer.submit([change], to: try writer.openStore())
            if let row = outcome.rows.first {
                print("seq \(row.seq): \(labelJSON(row.label))")
            } else if outcome.queued > 0 {
                print(
                    "queued: the global budget (limits.labels_per_*) is full; labeler run sends it first when there is room"
                )
            } else {
                print("no change: the label is already \(action == .apply ? "applied" : "not applied")")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply a label.")
        @OptionGroup var options: Options
        @Option(help: "Expire after this long (30s, 10m, 24h, 7d).") var exp: String?

        func run() async throws {
            var expiry: String? = nil
            var hours: Int64? = nil
            if let exp {
                guard let duration = RuleDuration(exp) else {
                    throw ValidationError("--exp \(exp): use a duration like 24h or 7d")
                }
                expiry = Datetime.format(unixMicros: Datetime.now().unixMicros + duration.microseconds)
                if duration.microseconds % 3_600_000_000 == 0 { hours = duration.microseconds / 3_600_000_000 }
            }
            if try await options.send(.apply, exp: expiry, hours: hours) { return }
            try await options.write(.apply, exp: expiry)
        }
    }

    struct Negate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Negate (retract) a label. Rules will not apply it again until a person does.")
        @OptionGroup var options: Options

        func run() async throws {
            if try await options.send(.negate, exp: nil, hours: nil) { return }
            try await options.write(.negate, exp: nil)
        }
    }
}
