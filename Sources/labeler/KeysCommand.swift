import ATCrypto
import ArgumentParser
import Labeler

#if canImport(Glibc)
import Glibc
#endif

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create and inspect the label signing key.",
        subcommands: [Generate.self, Show.self]
    )

    /// Where `labeler run` looks for its key unless configured otherwise.
    static let defaultPath = "data/signing.key"

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new signing key file (mode 0600). Never overwrites an existing file.")

        @Option(help: "Curve: secp256k1 (what the network's labelers use) or p256.")
        var type: KeyType = .secp256k1

        @Option(help: "Key file to create.")
        var out: String = KeysCommand.defaultPath

        func run() throws {
            try makeParentDirectory(of: out)
            let key = SigningKey.generate(type)
            do { try KeyFile.create(at: out, key: key) } catch { throw CommandFailure(error.description) }
            print(key.publicKey.didKey)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the did:key of a signing key file.")

        @Option(help: "Key file to read.")
        var key: String = KeysCommand.defaultPath

        @Option(help: "Curve of a key file that holds bare hex without a type prefix.")
        var type: KeyType = .secp256k1

        func run() throws {
            let signingKey: SigningKey
            do { signingKey = try KeyFile.load(at: key, defaultType: type) } catch { throw CommandFailure(error.description) }
            print(signingKey.publicKey.didKey)
        }
    }
}

extension KeyType: ExpressibleByArgument {}

/// Creates the directory that will hold `path` (like `mkdir -p`), so `keys generate` works in a
/// fresh checkout where `data/` does not exist yet.
func makeParentDirectory(of path: String) throws {
    do { try createParentDirectory(of: path) } catch { throw CommandFailure(error.description) }
}
