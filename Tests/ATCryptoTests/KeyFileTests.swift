import ATCrypto
import Foundation
import Testing

@Suite("Key files")
struct KeyFileTests {
    @Test(arguments: KeyType.allCases)
    func renderParseRoundTrip(type: KeyType) throws {
        let key = SigningKey.generate(type)
        let text = KeyFile.render(key)
        #expect(text == "\(type.rawValue):\(TestBytes.hex(key.rawPrivateKey))\n")
        // The type in the file wins over the default.
        let other: KeyType = type == .p256 ? .secp256k1 : .p256
        let parsed = try KeyFile.parse(text, defaultType: other)
        #expect(parsed.type == type)
        #expect(parsed.rawPrivateKey == key.rawPrivateKey)
        #expect(parsed.publicKey == key.publicKey)
    }

    @Test func bareHexUsesDefaultType() throws {
        let hex = "9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0c"
        let k256 = try KeyFile.parse(hex + "\n", defaultType: .secp256k1)
        #expect(k256.type == .secp256k1)
        #expect(k256.publicKey.didKey == "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme")
        let p256 = try KeyFile.parse(hex, defaultType: .p256)
        #expect(p256.type == .p256)
        #expect(p256.rawPrivateKey == k256.rawPrivateKey)
        // Upper-case hex, CRLF and surrounding blanks are tolerated.
        let upper = try KeyFile.parse("  secp256k1:" + hex.uppercased() + "\r\n", defaultType: .p256)
        #expect(upper.publicKey == k256.publicKey)
    }

    @Test func malformedTextIsRejected() throws {
        let hex = "9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0c"
        let inputs: [(String, CryptoError.Kind)] = [
            ("", .invalidKeyFile),
            ("\n", .invalidKeyFile),
            ("secp256k1:" + hex.dropLast(2), .invalidKeyFile),
            ("secp256k1:" + hex + "00", .invalidKeyFile),
            (String(hex.dropLast()), .invalidKeyFile),
            ("secp256k1:" + hex.dropLast() + "g", .invalidKeyFile),
            ("secp256k1:" + hex.dropLast(2) + "é", .invalidKeyFile),
            ("ed25519:" + hex, .unsupportedKeyType),
            ("SECP256K1:" + hex, .unsupportedKeyType),
            (":" + hex, .unsupportedKeyType),
            ("secp256k1:" + hex + "\nsecp256k1:" + hex, .invalidKeyFile),
            ("secp256k1:" + String(repeating: "0", count: 64), .invalidPrivateKey),
            ("p256:" + String(repeating: "f", count: 64), .invalidPrivateKey),
        ]
        for (text, kind) in inputs {
            let error = #expect(throws: CryptoError.self, "\(text.debugDescription)") {
                try KeyFile.parse(text, defaultType: .secp256k1)
            }
            #expect(error?.kind == kind, "\(text.debugDescription): \(error?.description ?? "")")
            // No message repeats the key material it was given.
            #expect(error.map { !$0.description.contains(String(hex.prefix(16))) } ?? true)
        }
    }

    @Test func createWritesOwnerOnlyFileAndRefusesToOverwrite() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("label.key").path

        let key = SigningKey.generate(.secp256k1)
        try KeyFile.create(at: path, key: key)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == KeyFile.render(key))

        let loaded = try KeyFile.load(at: path, defaultType: .p256)
        #expect(loaded.type == .secp256k1)
        #expect(loaded.rawPrivateKey == key.rawPrivateKey)

        let error = #expect(throws: CryptoError.self) {
            try KeyFile.create(at: path, key: SigningKey.generate(.p256))
        }
        #expect(error?.kind == .keyFileExists)
        #expect(error?.description.contains(path) == true)
        #expect(error?.description.contains("exists") == true)
        // The original key is untouched.
        #expect(try KeyFile.load(at: path, defaultType: .p256).rawPrivateKey == key.rawPrivateKey)
    }

    @Test func createRefusesExistingSymlink() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("elsewhere").path
        let link = dir.appendingPathComponent("label.key").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let error = #expect(throws: CryptoError.self) { try KeyFile.create(at: link, key: SigningKey.generate(.p256)) }
        #expect(error?.kind == .keyFileExists)
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func loadReportsMissingAndMalformedFiles() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("missing.key").path
        let error = #expect(throws: CryptoError.self) { try KeyFile.load(at: missing, defaultType: .p256) }
        #expect(error?.kind == .keyFileIO)
        #expect(error?.description.contains(missing) == true)

        let bad = dir.appendingPathComponent("bad.key").path
        try "p256:nothex\n".write(toFile: bad, atomically: false, encoding: .utf8)
        let parseError = #expect(throws: CryptoError.self) { try KeyFile.load(at: bad, defaultType: .p256) }
        #expect(parseError?.kind == .invalidKeyFile)
        #expect(parseError?.description.contains(bad) == true)

        let noDir = dir.appendingPathComponent("no/such/dir/label.key").path
        let createError = #expect(throws: CryptoError.self) {
            try KeyFile.create(at: noDir, key: SigningKey.generate(.p256))
        }
        #expect(createError?.kind == .keyFileIO)
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("atcrypto-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
