import ATProto
import ArgumentParser
import Firehose
import Foundation
import LabelStore
import Labeler
import Rules

extension RulesCommand {
    /// `labeler rules diff`: what a rule edit would change on captured traffic, before it goes live.
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which labels a rule edit would add and remove on captured traffic.",
            discussion: """
                Runs the --from rules and the --to rules over the captures, each through the pipeline \
                `labeler replay --db` runs, into a temporary database, and compares the labels in force \
                at the end of each run: added, removed and unchanged, per rule and in total, with \
                samples (subject, field, matched text). With --from-db, the --to rules are compared \
                with the labels rules applied in the configured database, on the records and accounts \
                the captures hold. Nothing outside the temporary folder is written.
                """
        )

        @Argument(help: "Capture files (plain, gzip or zstd).")
        var captures: [String]

        @Option(help: "The rules folder with the edit.")
        var to: String

        @Option(help: "The rules folder now in use (default: the configuration's rules.path).")
        var from: String?

        @Flag(name: .customLong("from-db"), help: "Compare with the labels in the database instead of --from.")
        var fromDB = false

        @Option(help: "With --from-db: the SQLite database (default: the configuration's).")
        var db: String?

        @Option(help: "Samples shown per rule for each of added, removed and unchanged.")
        var samples = 3

        @Option(help: "Accounts processed at once.")
        var concurrency = 8

        @Flag(help: "Print one JSON object.")
        var json = false

        @OptionGroup var file: ConfigurationOption
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var progressOptions: ProgressOptions

        func validate() throws {
            if fromDB, from != nil { throw ValidationError("give --from or --from-db, not both") }
            if db != nil, !fromDB { throw ValidationError("--db goes with --from-db") }
            guard samples >= 0 else { throw ValidationError("--samples cannot be negative") }
            guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        }

        func run() async throws {
            // The configuration is read only when it is needed: for --from's default, or the database.
            let configured = from == nil ? try file.load() : nil
            try logging.setUp(configured)
            let logger = CommandLineLogging.logger("labeler.rules-diff")
            for path in captures {
                do { _ = try CaptureReader(path: path) } catch { throw CommandFailure(error.description) }
            }
            let newRules = try loadRulesQuietly(to)
            let fromFolder = from ?? configured?.rulesPath ?? "rules"
            let oldRules = fromDB ? nil : try loadRulesQuietly(fromFolder)

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "labeler-rules-diff-\(UUID().uuidString)"
            ).path
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw CommandFailure("\(folder): cannot create a temporary folder: \(error.localizedDescription)")
            }
            defer { try? FileManager.default.removeItem(atPath: folder) }

            func replay(_ rules: RuleSet, into name: String) async throws -> RuleDiffRun {
                do {
                    return try await RuleDiffRun.run(
                        captures: captures, rules: rules, databasePath: folder + "/" + name + ".sqlite",
                        concurrency: concurrency, collectingSubjects: fromDB, logger: logger,
                        progress: progressOptions.reporter(unit: "messages"), totalBytes: totalSize(captures))
                } catch {
                    throw CommandFailure("\(error)")
                }
            }

            let old: (labels: [RuleDiff.Applied], store: LabelStore)
            let new: RuleDiffRun
            if let oldRules {
                let oldRun = try await replay(oldRules, into: "from")
                new = try await replay(newRules, into: "to")
                old = (try oldRun.applied(), oldRun.store)
            } else {
                new = try await replay(newRules, into: "to")
                old = try databaseLabels(configured, within: new.subjects)
            }
            let ruleIDs = (newRules.rules + (oldRules?.rules ?? [])).filter { $0.label != nil }.map(\.id)
            let diff = RuleDiff.compare(
                from: old.labels, to: try new.applied(), ruleIDs: ruleIDs, samples: samples,
                details: { run, key in RuleDiffRun.details(in: run == .from ? old.store : new.store, of: key) })
            print(json ? diff.json : diff.text)
        }

        /// The labels rules applied in the configured database (or --db), on `subjects`.
        private func databaseLabels(_ configured: LabelerConfiguration?, within subjects: Set<String>) throws -> (
            labels: [RuleDiff.Applied], store: LabelStore
        ) {
            var configuration = try configured ?? file.load()
            if let db { configuration.storePath = db }
            let store = try openExistingStore(configuration.storePath)
            let assembly = LabelerAssembly(
                configuration: configuration, environment: ProcessInfoLite.environmentVariables)
            do {
                // The labels' src: the configured DID, else the signing key's did:key.
                let src: String
                if configuration.did.isEmpty {
                    let key = try assembly.signingKey(
                        createIfAbsent: false, logger: CommandLineLogging.logger("labeler.rules-diff"))
                    src = try assembly.src(signingWith: key, withoutDID: .allow)
                } else {
                    guard DID.isValid(configuration.did) else {
                        throw LabelerAssembly.Failure("did: '\(configuration.did)' is not a DID")
                    }
                    src = configuration.did
                }
                return (try RuleDiffRun.applied(in: store, src: src, within: subjects), store)
            } catch let failure as LabelerAssembly.Failure {
                throw CommandFailure(failure.description)
            } catch {
                throw CommandFailure("\(configuration.storePath): \(error)")
            }
        }
    }
}

/// Loads a rules folder for a command whose standard output is its result: the problems go to
/// standard error, then one line stops the command.
private func loadRulesQuietly(_ directory: String) throws -> RuleSet {
    do {
        return try RuleSet.load(directory: directory)
    } catch {
        for diagnostic in error.diagnostics { writeToStandardError("\(diagnostic)\n") }
        throw CommandFailure(
            "\(directory): the rules do not load (\(error.diagnostics.count) problem\(error.diagnostics.count == 1 ? "" : "s"))"
        )
    }
}

extension RuleDiff {
    /// A table of rules (those with changes first, then by id) and the total, then each rule's samples.
    var text: String {
        let ids = rules.keys.sorted { a, b in
            let (x, y) = (rules[a]!, rules[b]!)
            let changedX = x.added + x.removed > 0
            let changedY = y.added + y.removed > 0
            return changedX != changedY ? changedX : a < b
        }
        let header = ["rule", "added", "removed", "unchanged"]
        let rows = ids.map { id in [id, "+\(rules[id]!.added)", "-\(rules[id]!.removed)", "\(rules[id]!.unchanged)"] }
        let totalRow = ["total", "+\(total.added)", "-\(total.removed)", "\(total.unchanged)"]
        let all = [header] + rows + [totalRow]
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        var lines = all.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        for id in ids {
            let counts = rules[id]!
            let shown = Change.allCases.flatMap { change in (counts.samples[change] ?? []).map { (change, $0) } }
            guard !shown.isEmpty else { continue }
            lines.append("")
            lines.append(id)
            for (change, sample) in shown {
                let mark = change == .added ? "+" : change == .removed ? "-" : "="
                var line = "  \(mark) \(sample.val)  \(sample.uri)"
                if let field = sample.field { line += "  \(field)" }
                if let snippet = sample.snippet { line += "  \(String(reflecting: snippet))" }
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `{"added", "removed", "unchanged", "rules": {id: {"added", "removed", "unchanged",
    /// "samples": {"added": [{"uri", "val", "field", "snippet"}], "removed": […], "unchanged": […]}}}}`.
    var json: String {
        func quote(_ text: String?) -> String { text.map(DataModelJSON.quote) ?? "null" }
        func samples(_ counts: Counts) -> String {
            let parts = Change.allCases.map { change in
                let items = (counts.samples[change] ?? []).map { sample in
                    "{\"uri\":\(quote(sample.uri)),\"val\":\(quote(sample.val)),\"field\":\(quote(sample.field)),"
                        + "\"snippet\":\(quote(sample.snippet))}"
                }
                return "\"\(change.rawValue)\":[\(items.joined(separator: ","))]"
            }
            return "{" + parts.joined(separator: ",") + "}"
        }
        let perRule = rules.keys.sorted().map { id in
            let counts = rules[id]!
            return "\(quote(id)):{\"added\":\(counts.added),\"removed\":\(counts.removed),"
                + "\"unchanged\":\(counts.unchanged),\"samples\":\(samples(counts))}"
        }
        return "{\"added\":\(total.added),\"removed\":\(total.removed),\"unchanged\":\(total.unchanged),"
            + "\"rules\":{\(perRule.joined(separator: ","))}}"
    }
}
