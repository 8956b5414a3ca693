import ATCrypto
import ATProto
import ArgumentParser
import Firehose
import Logging

extension LabelsCommand {
    /// Follows any labeler's `subscribeLabels` stream and prints its labels as they come.
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a labeler's label stream (ours or another's).",
            discussion: """
                URL is the labeler's address (https://labeler.example, ws://127.0.0.1:14831); the \
                subscribeLabels path is added. With --verify every label's signature is checked \
                against --key, or against the label's src when that is a did:key; a label that does \
                not verify is reported on standard error and the exit status is 1.
                """)

        @Argument(help: "The labeler's URL.") var url: String
        @Option(help: "Start after this seq (0: from the beginning; default: live only).") var cursor: Int64?
        @Flag(help: "Check every signature.") var verify = false
        @Option(help: "The labeler's signing key as a did:key (for --verify).") var key: String?
        @Flag(help: "One atproto JSON label per line.") var json = false
        @Option(help: "Stop after this many labels.") var limit: Int?

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            if key != nil && !verify { throw ValidationError("--key is used with --verify") }
        }

        func run() async throws {
            let logger = CommandLineLogging.logger("labeler.tail")
            let givenKey: PublicKey?
            do { givenKey = try key.map { text throws(CryptoError) in try PublicKey(didKey: text) } } catch {
                throw CommandFailure("--key: \(error.message)")
            }
            let client: LabelStreamClient
            do { client = try LabelStreamClient(url: url, logger: logger) } catch {
                throw CommandFailure(error.description)
            }
            var seen = 0
            var invalid = 0
            var keys: [String: PublicKey] = [:]
            do {
                try await client.run(cursor: cursor) { message in
                    guard case .labels(let seq, let labels) = message else { return }
                    for label in labels {
                        var verdict = ""
                        if verify {
                            let publicKey = try givenKey ?? Self.key(for: label.src, cache: &keys)
                            if label.verifySignature(with: publicKey) {
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

        /// The key of a labeler whose `src` is a did:key. Other DIDs need their DID document
        /// (its `#atproto_label` key), which is given with --key.
        static func key(for src: String, cache: inout [String: PublicKey]) throws -> PublicKey {
            if let known = cache[src] { return known }
            guard src.hasPrefix("did:key:") else {
                throw CommandFailure(
                    "--verify: labels from \(src) need its #atproto_label key: pass it with --key did:key:…")
            }
            do {
                let key = try PublicKey(didKey: src)
                cache[src] = key
                return key
            } catch {
                throw CommandFailure("--verify: src \(src): \(error.message)")
            }
        }
    }

    struct LimitReached: Error {}
}
