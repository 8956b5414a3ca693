import ATCrypto
import ATProto
import ArgumentParser
import Dispatch
import LabelStore
import Labeler
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, inspect and rotate the label signing key.",
        subcommands: [Generate.self, Show.self, Resign.self]
    )

    /// Where `labeler run` looks for its key unless configured otherwise.
    static let defaultPath = "data/signing.key"

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new signing key file (mode 0600). Never overwrites an existing file.")

        @Option(help: "Curve: secp256k1 (what the network's labelers use) or p256.")
        var type: KeyType = .secp256k1

        @Option(help: "Key file to create (default: the configuration's signing.key).")
        var out: String?
        @OptionGroup var file: ConfigurationOption

        func run() throws {
            let out = try self.out ?? file.load().signingKey
            try makeParentDirectory(of: out)
            let key = SigningKey.generate(type)
            do { try KeyFile.create(at: out, key: key) } catch { throw CommandFailure(error.description) }
            print(key.publicKey.didKey)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the did:key of a signing key file.")

        @Option(help: "Key file to read (default: the configuration's signing.key).")
        var key: String?

        @Option(help: "Curve of a key file that holds bare hex without a type prefix.")
        var type: KeyType = .secp256k1
        @OptionGroup var file: ConfigurationOption

        func run() throws {
            let key = try self.key ?? file.load().signingKey
            let signingKey: SigningKey
            do { signingKey = try KeyFile.load(at: key, defaultType: type) } catch {
                throw CommandFailure(error.description)
            }
            print(signingKey.publicKey.didKey)
        }
    }
}

extension KeysCommand {
    /// After a key rotation: re-sign every stored label that an older key signed.
    struct Resign: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-sign the stored labels that an older key signed, with the current key.",
            discussion: """
                Rotate by pointing signing.key at a new key file, publishing its did:key as \
                #atproto_label in the labeler's DID document, and restarting: new labels are signed \
                with it, and the server re-signs older ones as it serves them. This makes that \
                permanent for all of them at once. Safe while the service runs.
                """)

        @Option(help: "SQLite database (default: the configuration's store.path).") var db: String?
        @Option(help: "The current signing key file (default: the configuration's signing.key).") var key: String?
        @Option(help: "Curve of a key file that holds bare hex without a type prefix.")
        var type: KeyType = .secp256k1
        @OptionGroup var file: ConfigurationOption
        @OptionGroup var progressOptions: ProgressOptions

        func run() throws {
            let configured = try file.load()
            let key = self.key ?? configured.signingKey
            let db = self.db ?? configured.storePath
            let signingKey: SigningKey
            do { signingKey = try KeyFile.load(at: key, defaultType: type) } catch {
                throw CommandFailure(error.description)
            }
            let store = try openExistingStore(db)
            do {
                let keyID = try store.keyID(forDIDKey: signingKey.publicKey.didKey, at: Datetime.now().rawValue)
                var after: Int64 = 0
                var total = 0
                // Counted once, before: rows written meanwhile make the work a little more or
                // less than that (the percentage stops at 100).
                let reporter = progressOptions.reporter(unit: "labels")
                defer { reporter.finish() }  // also when a batch fails: the error starts a clean line
                let toDo = try store.countLabelsSigned(byOtherThan: keyID)
                var done = 0
                while true {
                    let batch = try store.labelsSigned(byOtherThan: keyID, after: after, limit: 2_000)
                    guard let last = batch.last else { break }
                    after = last.seq
                    let signed = try resign(batch, with: signingKey)
                    total += try store.replaceSignatures(signed, keyID: keyID)
                    done += batch.count
                    reporter.report(WorkProgress(count: done, totalCount: toDo))
                }
                reporter.finish()
                print("re-signed \(total) labels with \(signingKey.publicKey.didKey)")
            } catch let error as LabelStore.Error {
                throw CommandFailure(error.description)
            }
        }

        /// `labels` with new signatures, signed on every core.
        func resign(_ labels: [StoredLabel], with key: SigningKey) throws -> [StoredLabel] {
            let results = Mutex([Result<StoredLabel, any Error>?](repeating: nil, count: labels.count))
            DispatchQueue.concurrentPerform(iterations: labels.count) { i in
                var label = labels[i]
                let result = Result { () throws -> StoredLabel in
                    label.label = try label.label.signed(with: key)
                    return label
                }
                results.withLock { $0[i] = result }
            }
            return try results.withLock { $0 }.map { try $0!.get() }
        }
    }
}

extension KeyType: ExpressibleByArgument {}

/// Creates the directory that will hold `path` (like `mkdir -p`), so `keys generate` works in a
/// fresh checkout where `data/` does not exist yet.
func makeParentDirectory(of path: String) throws {
    do { try createParentDirectory(of: path) } catch { throw CommandFailure(error.description) }
}
