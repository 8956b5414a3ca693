import ATCrypto
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Where the service's signing key comes from: the environment variable
/// `LABELER_SIGNING_PRIVATE_KEY` (the key file's text, for secret stores that hand out
/// variables), else the key file, which is created (mode 0600, never overwritten) when absent.
/// The key itself is never logged; only its did:key is.
public enum SigningKeyLoader {
    public static let environmentVariable = "LABELER_SIGNING_PRIVATE_KEY"

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func load(
        path: String, typeForNewKey: KeyType, environment: [String: String], logger: Logger
    ) throws(Failure) -> SigningKey {
        if let text = environment[environmentVariable], !text.isEmpty {
            do { return try KeyFile.parse(text, defaultType: typeForNewKey) } catch {
                throw Failure(description: "\(environmentVariable): \(error.message)")
            }
        }
        if access(path, F_OK) == 0 {
            do { return try KeyFile.load(at: path, defaultType: typeForNewKey) } catch {
                throw Failure(description: error.description)
            }
        }
        do { try createParentDirectory(of: path) } catch { throw Failure(description: error.description) }
        let key = SigningKey.generate(typeForNewKey)
        do { try KeyFile.create(at: path, key: key) } catch { throw Failure(description: error.description) }
        logger.notice(
            "created a signing key; publish its did:key as #atproto_label in the labeler's DID document",
            metadata: ["file": "\(path)", "type": "\(typeForNewKey.rawValue)", "did_key": "\(key.publicKey.didKey)"])
        return key
    }
}

/// Creates the folders above `path` (as `mkdir -p` does, mode 0700 since they hold the key and
/// the database), so a first start with the default configuration can use `data/`.
public func createParentDirectory(of path: String) throws(FileSystemError) {
    guard let slash = path.lastIndex(of: "/") else { return }
    let directory = String(path[..<slash])
    guard !directory.isEmpty else { return }
    var built = directory.hasPrefix("/") ? "" : "."
    for component in directory.split(separator: "/") {
        built += "/" + component
        if mkdir(built, 0o700) != 0 && errno != EEXIST {
            throw FileSystemError(description: "cannot create folder \(built): \(String(cString: strerror(errno)))")
        }
    }
}

public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
