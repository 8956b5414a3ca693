import ATProto
import ArgumentParser
import Foundation
import LabelStore
import Labeler
import Rules

struct ReportsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports",
        abstract: "Review the reports accounts sent (reads the database; safe while the service runs).",
        subcommands: [List.self, Show.self, Resolve.self, Mute.self, Unmute.self, Mutes.self]
    )

    /// `--state` also takes `all`.
    enum StateFilter: String, ExpressibleByArgument, CaseIterable {
        case open, escalated, resolved, dismissed, all

        var state: ReportState? { ReportState(rawValue: rawValue) }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List reports, newest first.")

        @Option(help: "open, escalated, resolved, dismissed or all.") var state: StateFilter = .all
        @Option(help: "An at:// URI, or a DID (the account and every record of it).") var subject: String?
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "Only the reports filed while their reporter was muted (left out otherwise).") var muted = false
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption
        @Flag(
            help:
                "One JSON object per line: id, reason_type, reason, subject, subject_cid, reported_by, state, muted, created_at, updated_at, appeal."
        )
        var json = false

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let reports: [StoredReport]
            do { reports = try store.reports(state: state.state, subject: subject, muted: muted, limit: limit) } catch {
                throw CommandFailure(error.description)
            }
            for report in reports {
                if json {
                    print(report.jsonLine)
                } else {
                    print(
                        "\(report.id)\t\(report.state.rawValue)\t\(report.reasonType)\t\(report.subject.key)\tby \(report.reportedBy)\t\(report.createdAt)"
                    )
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One report and its history.")

        @Argument(help: "The report's id.") var id: Int64
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption
        @Flag(help: "One JSON object: the report's fields and its history.") var json = false

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let report: StoredReport?
            let history: [ReportAction]
            do {
                report = try store.report(id: id)
                history = try store.reportActions(id: id)
            } catch {
                throw CommandFailure(error.description)
            }
            guard let report else { throw CommandFailure("no report \(id)") }
            if json {
                print(
                    String(report.jsonLine.dropLast()) + #","history":["#
                        + history.map(\.jsonObject).joined(separator: ",") + "]}")
                return
            }
            print("report     \(report.id) (\(report.state.rawValue))")
            print("subject    \(report.subject.key)")
            if case .record(_, let cid) = report.subject { print("cid        \(cid)") }
            print("reason     \(report.reasonType)")
            if let reason = report.reason { print("text       \(DataModelJSON.quote(reason))") }
            print("by         \(report.reportedBy)\(report.muted ? " (muted when it reported)" : "")")
            print("created    \(report.createdAt)")
            if let appeal = report.appeal {
                let labels = appeal.map { "\($0.val) (seq \($0.seq)\($0.cid.map { " @\($0)" } ?? ""))" }
                print(
                    "appeals    \(labels.isEmpty ? "no label (none was on the subject)" : labels.joined(separator: ", "))"
                )
            }
            for action in history {
                var line = "\(action.createdAt)  \(action.action)"
                if let actor = action.actor { line += " by \(actor)" }
                if let type = action.reasonType { line += "  \(type)" }
                if let reason = action.reason { line += "  \(DataModelJSON.quote(reason))" }
                if let note = action.note { line += "  note: \(note)" }
                print(line)
            }
        }
    }

    struct Mute: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Mute a reporter: its reports are still answered as usual, but stored muted and kept out of review.",
            discussion: """
                Only the reports it files from now on are muted; `reports list --muted` shows them. \
                Muting again replaces the mute.
                """)

        @Argument(help: "The reporter's DID.") var did: String
        @Option(name: .customLong("for"), help: "How long (30m, 24h, 30d); without it, until unmuted.")
        var duration: String?
        @Option(help: "Why (kept with the mute).") var note: String?
        @Option(help: "Who is muting (kept with the mute).") var actor = ProcessInfoLite.environment("USER") ?? "cli"
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption

        func validate() throws {
            guard DID.isValid(did) else { throw ValidationError("\(did) is not a DID") }
            if let duration, RuleDuration(duration) == nil {
                throw ValidationError("--for \(duration): use a duration like 24h or 30d")
            }
        }

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let now = Datetime.now()
            let until = duration.flatMap(RuleDuration.init).map {
                Datetime.format(unixMicros: now.unixMicros + $0.microseconds)
            }
            do { try store.muteReporter(did, until: until, actor: actor, note: note, at: now.rawValue) } catch {
                throw CommandFailure(error.description)
            }
            print("muted \(did) \(until.map { "until \($0)" } ?? "until unmuted")")
        }
    }

    struct Unmute: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a reporter's mute: its next reports are reviewed again (the muted ones stay muted).")

        @Argument(help: "The reporter's DID.") var did: String
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption

        func validate() throws {
            guard DID.isValid(did) else { throw ValidationError("\(did) is not a DID") }
        }

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let had: Bool
            do { had = try store.unmuteReporter(did) } catch { throw CommandFailure(error.description) }
            // A typo in the DID must not look like success.
            guard had else { throw CommandFailure("\(did) is not muted") }
            print("unmuted \(did)")
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a report: label its subject, negate a label on it, or dismiss it.",
            discussion: """
                Labels are written through a label writer on the configured database, as \
                `labeler label add` without the service does (safe while the service runs; it \
                serves them within a second). Their history names the report and the note, so \
                `labels explain` shows them. Only an open or escalated report can be closed.
                """)

        @Argument(help: "The report's id.") var id: Int64
        @Option(help: "Apply this label to the report's subject.") var label: String?
        @Option(help: "With --label: expire after this long (30s, 10m, 24h, 7d).") var exp: String?
        @Option(help: "Negate this label on the report's subject.") var negate: String?
        @Flag(help: "Close the report without changing any label.") var dismiss = false
        @Option(help: "Why (kept in the report's history and the label's).") var note: String?
        @Option(help: "Who is acting (kept in the history).") var actor = ProcessInfoLite.environment("USER") ?? "cli"
        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @Option(help: "Signing key file (default: the configuration's).") var key: String?
        @Flag(help: "Sign with the key's did:key as src when no DID is configured (the network ignores such labels).")
        var allowDidKeySrc = false
        @OptionGroup var file: ConfigurationOption
        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            guard [label != nil, negate != nil, dismiss].filter({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --label VAL, --negate VAL or --dismiss")
            }
            if exp != nil && label == nil { throw ValidationError("--exp goes with --label") }
            if let exp, RuleDuration(exp) == nil {
                throw ValidationError("--exp \(exp): use a duration like 24h or 7d")
            }
            for val in [label, negate].compactMap({ $0 }) {
                if let problem = LabelValue.problem(with: val) { throw ValidationError(problem) }
            }
        }

        func run() async throws {
            var configured = try file.load()
            if let db { configured.storePath = db }
            if let key { configured.signingKey = key }
            try logging.setUp(configured)
            let store = try openExistingStore(configured.storePath)
            let report: StoredReport?
            do { report = try store.report(id: id) } catch { throw CommandFailure(error.description) }
            guard let report else { throw CommandFailure("no report \(id)") }
            // Checked before any label is written; `closeReport` checks again in its transaction.
            guard report.state.isOpen else { throw CommandFailure("report \(id) is already \(report.state.rawValue)") }
            let now = Datetime.now()
            var outcome: String? = nil
            if label != nil || negate != nil {
                outcome = try await changeLabels(of: report, in: store, configuration: configured, now: now)
            }
            let closed: StoredReport
            do {
                closed = try store.closeReport(
                    id: id, as: dismiss ? .dismissed : .resolved, actor: actor, note: note, outcome: outcome,
                    at: Datetime.now().rawValue)
            } catch {
                throw CommandFailure(error.description)
            }
            print("report \(id) \(closed.state.rawValue)\(outcome.map { ": \($0)" } ?? "")")
        }

        /// Applies `--label` or negates `--negate` on the report's subject through the writer;
        /// returns what was done, in words, for the report's history.
        func changeLabels(
            of report: StoredReport, in store: LabelStore, configuration: LabelerConfiguration, now: Datetime
        ) async throws -> String {
            let writer = try CommandLabelWriter(
                configuration: configuration, allowDidKeySrc: allowDidKeySrc,
                logger: CommandLineLogging.logger("labeler.reports"))
            let subject = try labelSubject(report.subject.key)
            let origin = LabelChange.Origin.manual(actor: actor)
            // Why the label changed, in its history: the note, else for an appeal that it was granted.
            let reason = note ?? (report.appeal != nil && negate != nil ? "appeal \(report.id) granted" : nil)
            let changes: [LabelChange]
            if let val = label {
                let expiry = exp.flatMap(RuleDuration.init).map {
                    Datetime.format(unixMicros: now.unixMicros + $0.microseconds)
                }
                changes = [
                    LabelChange(
                        action: .apply, subject: subject, val: val, exp: expiry, origin: origin, reason: reason,
                        reportID: report.id)
                ]
            } else {
                let val = negate ?? ""
                // Every version the label is on (with or without a cid) is negated.
                let current: [StoredLabel]
                do {
                    current = try store.activeVersions(of: val, on: subject, sources: [writer.src], now: now.rawValue)
                } catch {
                    throw CommandFailure(error.description)
                }
                guard !current.isEmpty else { throw CommandFailure("\(subject) has no label \(val) to negate") }
                changes = current.map {
                    LabelChange(
                        action: .negate, subject: subject, cid: $0.label.cid, val: val, origin: origin, reason: reason,
                        reportID: report.id)
                }
            }
            let outcome = try await writer.submit(changes, to: store)
            let rows = outcome.rows
            let verb = label != nil ? "applied" : "negated"
            let val = label ?? negate ?? ""
            if rows.isEmpty && outcome.queued > 0 {
                return "\(val) queued to be \(verb) (the global budget is full; labeler run sends it first)"
            }
            guard !rows.isEmpty else { return "\(val) was already \(verb)" }
            return "\(verb) \(val) (seq \(rows.map { String($0.seq) }.joined(separator: ", ")))"
        }
    }

    struct Mutes: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The reporters muted now, by DID.")

        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @OptionGroup var file: ConfigurationOption
        @Flag(help: "One JSON object per line: did, until, actor, note, created_at.") var json = false

        func run() throws {
            let store = try openExistingStore(try db ?? file.load().storePath)
            let mutes: [ReporterMute]
            do { mutes = try store.reporterMutes(at: Datetime.now().rawValue) } catch {
                throw CommandFailure(error.description)
            }
            for mute in mutes {
                if json {
                    func text(_ value: String?) -> String { value.map(DataModelJSON.quote) ?? "null" }
                    print(
                        #"{"did":"# + DataModelJSON.quote(mute.did) + #","until":"# + text(mute.until) + #","actor":"#
                            + text(mute.actor) + #","note":"# + text(mute.note) + #","created_at":"#
                            + DataModelJSON.quote(mute.createdAt) + "}")
                } else {
                    var line = "\(mute.did)\t\(mute.until.map { "until \($0)" } ?? "until unmuted")"
                    if let actor = mute.actor { line += "\tby \(actor)" }
                    if let note = mute.note { line += "\t\(note)" }
                    print(line)
                }
            }
        }
    }
}
