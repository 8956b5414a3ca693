import ATCrypto
import ATProto
import Foundation
import TestNetwork
import Testing

@testable import Identity

@Suite struct LabelVerifierTests {
    let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

    func label(src: String, signedWith key: SigningKey) throws -> Label {
        try Label(src: src, uri: "did:plc:44ybard66vv44zksje25o7dz", val: "spam", cts: "2026-12-02T10:00:00.000Z")
            .signed(with: key)
    }

    @Test func checksAgainstTheAtprotoLabelKeyAndReResolvesOnceAfterARotation() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let old = SigningKey.generate(.secp256k1), new = SigningKey.generate(.p256)
        let repoKey = SigningKey.generate(.secp256k1)
        network.withState {
            $0.plc[did] = .init(
                verificationMethods: ["atproto": repoKey.publicKey.didKey, "atproto_label": old.publicKey.didKey],
                alsoKnownAs: [], services: [:])
        }
        var configuration = IdentityResolver.Configuration()
        configuration.plcURL = base + "/plc"
        let resolver = IdentityResolver(configuration: configuration)
        let verifier = LabelVerifier(resolver: resolver)

        #expect(try await verifier.verify(label(src: did, signedWith: old)) == .valid)
        // Signed with the repo key: #atproto is never a label key.
        #expect(try await verifier.verify(label(src: did, signedWith: repoKey)) == .invalid)
        // The labeler rotates; the cached document still has the old key, so the first check
        // fails and the verifier resolves again before deciding.
        network.withState { $0.plc[did]?.verificationMethods["atproto_label"] = new.publicKey.didKey }
        let fetchesBefore = await resolver.fetches
        #expect(try await verifier.verify(label(src: did, signedWith: new)) == .valid)
        #expect(await resolver.fetches == fetchesBefore + 1)
        // A forged label stays invalid after the second look.
        var forged = try label(src: did, signedWith: new)
        forged.val = "porn"
        #expect(try await verifier.verify(forged) == .invalid)
        await network.stop()
    }

    @Test func aDIDKeySourceIsItsOwnKeyAndAGivenKeyWins() async throws {
        let key = SigningKey.generate(.secp256k1), other = SigningKey.generate(.secp256k1)
        let verifier = LabelVerifier(resolver: nil)
        #expect(try await verifier.verify(label(src: key.publicKey.didKey, signedWith: key)) == .valid)
        #expect(try await verifier.verify(label(src: key.publicKey.didKey, signedWith: other)) == .invalid)
        // Without a resolver a DID source cannot be checked: an error, not a verdict.
        await #expect(throws: IdentityError.self) { try await verifier.verify(try label(src: did, signedWith: key)) }
        let fixed = LabelVerifier(resolver: nil, fixedKey: other.publicKey)
        #expect(try await fixed.verify(label(src: did, signedWith: other)) == .valid)
    }
}
