import ATCrypto
import ATProto
import ArgumentParser
import Firehose
import Identity
import Labeler
import Logging

extension LabelsCommand {
    /// Follows any labeler's `subscribeLabels` stream and prints its labels as they come.
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a labeler's label stream (ours or another's).",
            discussion: """
                URL is the labeler's address (https://labeler.example, ws://127.0.0.1:14831); the \
                subscribeLabels path is added. With --verify every label's signature is checked \
                against --key when given, else against the #atproto_label key of the label's src \
                (resolved with the configuration's identity settings; a did:key src is its own key). \
                A signature that fails is checked again against a freshly resolved key before it \
                counts; a label that does not verify is reported on standard error and the exit \
                status is 1.
                """)

        @Argument(help: "The labeler's URL.") var url: String
        @Option(help: "Start after this seq (0: from the beginning; default: live only).") var cursor: Int64?
        @Flag(help: "Check every signature.") var verify = false
        @Option(help: "The labeler's signing key as a did:key (for --verify; default: resolved from src).")
        var key: String?
        @OptionGroup var configuration: ConfigurationOption
        @Flag(help: "One atproto JSON label per line.") var json = false
        @Option(help: "Stop after this many labels.") var limit: Int?
        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            if key != nil && !verify { throw ValidationError("--key is used with --verify") }
        }

        func run() async throws {
            // The configuration is read only for --verify; the log settings come from the environment.
            try logging.setUp(nil)
            let logger = CommandLineLogging.logger("labeler.tail")
            let givenKey: PublicKey?
            do { givenKey = try key.map { text throws(CryptoError) in try PublicKey(didKey: text) } } catch {
                throw CommandFailure("--key: \(error.message)")
            }
            let client: LabelStreamClient
            do { client = try LabelStreamClient(url: url, logger: logger) } catch {
                throw CommandFailure(error.description)
            }
            var resolver: IdentityResolver? = nil
            if verify && givenKey == nil {
                let configuration = try configuration.load()
                do {
                    resolver = try LabelerAssembly(configuration: configuration, environment: [:]).identityResolver()
                } catch {
                    throw CommandFailure(error.description)
                }
            }
            let verifier = LabelVerifier(resolver: resolver, fixedKey: givenKey)
            var seen = 0
            var invalid = 0
            do {
                try await client.run(cursor: cursor) { message in
                    guard case .labels(let seq, let labels) = message else { return }
                    for label in labels {
                        var verdict = ""
                        if verify {
                            let result: LabelVerifier.Verdict
                            do { result = try await verifier.verify(label) } catch {
                                throw CommandFailure("--verify: \(label.src): \(error)")
                            }
                            if result == .valid {
                                verdict = " verified"
                            } else {
                                verdict = " INVALID"
                                invalid += 1
                                writeToStandardError(
                                    "seq \(seq): signature does not verify: \(label.uri) \(label.val)\n")
                            }
                        }
                        if json {
                            print(labelJSON(label))
                        } else {
                            print(
                                "\(seq)\t\(label.src)\t\(label.uri)\t\(label.val)\(label.isNegation ? " (negated)" : "")\t\(label.cts)\(verdict)"
                            )
                        }
                        seen += 1
                        if let limit, seen >= limit { throw LimitReached() }
                    }
                }
            } catch is LimitReached {
            } catch let failure as CommandFailure {
                throw failure
            } catch {
                throw CommandFailure("\(error)")
            }
            if invalid > 0 { throw CommandFailure("\(invalid) of \(seen) labels did not verify") }
            if verify { writeToStandardError("\(seen) labels, every signature verified\n") }
        }
    }

    struct LimitReached: Error {}
}
