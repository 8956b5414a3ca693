import ATProto
import ArgumentParser
import Labeler
import Rules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract:
            "Validate, test and try out rule files, and see what an edit would change and what budgets hold back.",
        subcommands: [Check.self, Test.self, Eval.self, Diff.self, Status.self, Reset.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a rules folder and report every problem as file:line:column: message.",
            discussion: """
                Exits 1 when there is any problem; the set would not load in the service either. Warnings \
                (file:line:column: warning: message) do not stop it from loading. With a labels.yaml in the \
                folder, every label value a rule emits must be defined there.
                """
        )

        @Argument(help: "The rules folder (default: the configuration's rules.path).")
        var directory: String?
        @OptionGroup var file: ConfigurationOption

        func run() throws {
            let directory = try self.directory ?? file.load().rulesPath
            let set = try loadRules(directory)
            for warning in set.warnings { print(warning) }
            if set.labelDefinitions == nil {
                print(
                    "note: no \(LabelDefinitions.fileName) in \(directory): label values are not checked against definitions"
                )
            }
            print("ok: \(set.summary)")
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the test cases in DIR/tests/*.yaml and score the rules on labeled samples.",
            discussion: """
                Prints each failing case with what was expected and what the rules produced. With labeled \
                samples (DIR/tests/*.jsonl and --samples files: one {"record", "collection", "expect"} \
                object per line), prints each labeling rule's true and false positives, false negatives, \
                precision, recall and F1, and fails a rule below its min_precision or min_recall, or whose \
                minimum cannot be measured. Exits 1 on any failure.
                """
        )

        @Argument(help: "The rules folder (default: the configuration's rules.path).")
        var directory: String?
        @Option(name: .customLong("samples"), help: "A labeled sample file (JSON Lines); repeat for more.")
        var sampleFiles: [String] = []
        @Flag(help: "Print one JSON object: the cases' results and each rule's figures.")
        var json = false
        @OptionGroup var file: ConfigurationOption

        func run() throws {
            let directory = try self.directory ?? file.load().rulesPath
            let set = try loadRules(directory)
            let samplePaths = RuleSampleFile.paths(in: directory) + sampleFiles
            let cases: [RuleTestCase]
            let samples: [RuleSample]
            do {
                cases = try RuleTestSuite.load(directory: directory, required: samplePaths.isEmpty)
            } catch {
                printErrors(error)
                throw ExitCode(1)
            }
            do {
                samples = try RuleSampleFile.load(paths: samplePaths)
            } catch {
                for problem in error.problems { print(problem) }
                print("\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s") in the sample files")
                throw ExitCode(1)
            }
            let results = RuleTestRunner.run(cases, with: set)
            let quality = RuleQuality.measure(samples, with: set)
            let outcome = TestOutcome(results: results, quality: quality)
            print(json ? outcome.json : outcome.text)
            if !outcome.passed { throw ExitCode(1) }
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show which rules fire on a text or record, on which field, with the matched text.",
            discussion: """
                With --stdin, every non-empty line of standard input is one input: a JSON object is a \
                record of --collection, anything else is the text of a post. Threshold rules count only \
                the inputs of this run (all as one account).
                """
        )

        @Option(help: "The rules folder (default: the configuration's rules.path).")
        var rules: String?
        @OptionGroup var file: ConfigurationOption

        @Option(help: "Collection of a --record or --stdin record.")
        var collection = Collections.post

        @Option(help: "A post text.")
        var text: String?

        @Option(help: "A record as a JSON object.")
        var record: String?

        @Option(help: "A handle (an identity event).")
        var handle: String?

        @Flag(help: "Read inputs from standard input, one per line.")
        var stdin = false

        @Option(help: "The account the input belongs to.")
        var did = RuleTestSuite.defaultDID

        func validate() throws {
            let given = [text != nil, record != nil, handle != nil, stdin].filter { $0 }.count
            guard given == 1 else {
                throw ValidationError("Give exactly one of --text, --record, --handle or --stdin.")
            }
            guard NSID.isValid(collection) else {
                throw ValidationError("--collection '\(collection)' is not an NSID.")
            }
            guard DID.isValid(did) else { throw ValidationError("--did '\(did)' is not a DID.") }
        }

        func run() throws {
            let set = try loadRules(try rules ?? file.load().rulesPath)
            let scratch = RuleScratch()
            var counts = InMemoryThresholdCounts()
            var inputs: [String] = []
            if stdin {
                while let line = readLine() {
                    if !line.isEmpty { inputs.append(line) }
                }
            }
            let contexts: [RecordContext] =
                if let text { [try context(text: text)] } else if let record {
                    [try context(json: record)]
                } else if let handle { [.identity(did: did, handle: handle, time: Datetime.currentUnixMicros())] } else
                {
                    try inputs.map { line in
                        line.hasPrefix("{") ? try context(json: line) : try context(text: line)
                    }
                }
            for (index, context) in contexts.enumerated() {
                if contexts.count > 1 { print("\(index == 0 ? "" : "\n")# input \(index + 1)") }
                let effects = set.evaluate(context, counts: counts, using: scratch)
                counts.record(effects.counterBumps)
                report(effects, set: set)
            }
        }

        private func context(text: String) throws -> RecordContext {
            let record: CBORValue = .map([
                "$type": .text(CBORText(Collections.post)), "text": .text(CBORText(text)),
                "createdAt": .text(CBORText(Datetime.now().rawValue)),
            ])
            return makeContext(collection: Collections.post, record: record)
        }

        private func context(json: String) throws -> RecordContext {
            do {
                return makeContext(collection: collection, record: try DataModelJSON.parseObject(json))
            } catch {
                throw CommandFailure("record: \(error)")
            }
        }

        private func makeContext(collection: String, record: CBORValue) -> RecordContext {
            RecordContext(
                did: did, collection: collection, rkey: "3leval0000000", action: .create, record: record,
                time: Datetime.currentUnixMicros())
        }

        private func report(_ effects: Effects, set: RuleSet) {
            for line in RulePlayground.describe(effects, set: set) { print(line) }
        }
    }
}

/// Loads a rules folder, printing every problem and exiting 1 when there is any.
func loadRules(_ directory: String) throws -> RuleSet {
    do {
        return try RuleSet.load(directory: directory)
    } catch {
        printErrors(error)
        throw ExitCode(1)
    }
}

private func printErrors(_ error: RuleLoadError) {
    for diagnostic in error.diagnostics { print(diagnostic) }
    print("\(error.diagnostics.count) problem\(error.diagnostics.count == 1 ? "" : "s")")
}
