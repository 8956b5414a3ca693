import ATCrypto
import ATProto
import Testing

@testable import Identity

@Suite struct CommitVerifierTests {
    /// The cache of parsed keys holds at most its capacity (100 000 by default): past it, it
    /// starts again, and every lookup still gets its document's key.
    @Test func theParsedKeyCacheStaysWithinItsCapacity() throws {
        #expect(CommitVerifier.Configuration().parsedKeyCapacity == 100_000)
        var configuration = CommitVerifier.Configuration()
        configuration.parsedKeyCapacity = 4
        let verifier = CommitVerifier(resolver: IdentityResolver(configuration: .init()), configuration: configuration)
        let did = try DID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")
        var sizes: [Int] = []
        for n in 0..<10 {
            let key = SigningKey.generate(n % 2 == 0 ? .secp256k1 : .p256).publicKey
            let document = DIDDocument(
                id: did,
                verificationMethods: [
                    .init(id: "#atproto", type: "Multikey", controller: did.rawValue, publicKeyMultibase: key.multikey)
                ], services: [])
            #expect(try verifier.parsedKey("atproto", of: document) == key)
            // The second time from the cache.
            #expect(try verifier.parsedKey("atproto", of: document) == key)
            sizes.append(verifier.parsedKeyCount)
        }
        #expect(sizes == [1, 2, 3, 4, 1, 2, 3, 4, 1, 2])
    }
}
