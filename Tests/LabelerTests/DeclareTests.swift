import ATCrypto
import ATProto
import Foundation
import Identity
import Rules
import TestNetwork
import TestSupport
import Testing

@testable import Labeler

/// `labeler declare` against the in-process PDS and PLC directory, which check every body against
/// the lexicons.
@Suite struct DeclareTests {
    static let did = "did:plc:labelerlabelerlabelerlab"
    static let publicURL = "https://labeler.example.com"
    let repoKey = SigningKey.generate(.secp256k1).publicKey.didKey
    let labelKey = SigningKey.generate(.secp256k1).publicKey

    static var spam: [String: Any] {
        [
            "identifier": "spam", "severity": "alert", "blurs": "none", "defaultSetting": "warn", "adultOnly": false,
            "locales": [["lang": "en", "name": "Spam", "description": "Unsolicited commercial content"]],
        ]
    }
    static var scam: [String: Any] {
        [
            "identifier": "scam", "severity": "alert", "blurs": "content", "defaultSetting": "hide", "adultOnly": false,
            "locales": [["lang": "en", "name": "Scam", "description": "Fraud"]],
        ]
    }

    struct Setup {
        let network: TestNetwork
        let base: String
        let resolver: IdentityResolver
        let lines = Locked<[String]>([])

        func declarer(token: String? = TestNetwork.plcToken) -> Declarer {
            let lines = lines
            return Declarer(
                resolver: resolver, timeout: .seconds(30), say: { line in lines.withLock { $0.append(line) } },
                token: { token })
        }
    }

    func withNetwork(_ body: (Setup) async throws -> Void) async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        network.withState {
            $0.accounts[Self.did] = .init(did: Self.did, handle: "labeler.test", password: "app-password")
            $0.plc[Self.did] = .init(
                verificationMethods: ["atproto": repoKey, "backup": repoKey], alsoKnownAs: ["at://labeler.test"],
                services: [
                    "atproto_pds": .init(type: "AtprotoPersonalDataServer", endpoint: base),
                    "custom": .init(type: "SomethingElse", endpoint: "https://other.example.com"),
                ])
        }
        var configuration = IdentityResolver.Configuration()
        configuration.plcURL = base + "/plc"
        configuration.origin = { host in base + "/web/" + host }
        let setup = Setup(network: network, base: base, resolver: IdentityResolver(configuration: configuration))
        do { try await body(setup) } catch {
            await network.stop()
            throw error
        }
        #expect(network.problems == [], "every body fits its lexicon")
        await network.stop()
    }

    func inputs(
        _ definitions: [[String: Any]] = [spam], did: String = did, password: String? = "app-password"
    ) throws -> Declarer.Inputs {
        Declarer.Inputs(
            did: try DID(did), publicURL: Self.publicURL, labelKey: labelKey,
            labelValues: definitions.compactMap { $0["identifier"] as? String },
            definitions: try JSONSerialization.data(withJSONObject: definitions), password: password,
            createdAt: "2026-12-02T10:00:00.000Z")
    }

    func record(_ network: TestNetwork) throws -> [String: Any]? {
        guard let data = network.withState({ $0.accounts[Self.did]?.records["app.bsky.labeler.service/self"] }) else {
            return nil
        }
        return try JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    @Test func declaresTheRecordAndTheDIDDocumentKeepingEverythingElse() async throws {
        try await withNetwork { setup in
            let report = try await setup.declarer().run(try inputs(), dryRun: false)
            #expect(report.recordWritten && report.documentUpdated)

            let record = try #require(try record(setup.network))
            #expect(record["$type"] as? String == "app.bsky.labeler.service")
            #expect(record["createdAt"] as? String == "2026-12-02T10:00:00.000Z")
            let policies = try #require(record["policies"] as? [String: Any])
            #expect(policies["labelValues"] as? [String] == ["spam"])
            let definitions = try #require(policies["labelValueDefinitions"] as? [[String: Any]])
            #expect(definitions.count == 1 && definitions[0]["identifier"] as? String == "spam")
            #expect(definitions[0]["defaultSetting"] as? String == "warn")
            // Reports are off: empty lists, since an absent field means "accept everything".
            for field in ["reasonTypes", "subjectTypes", "subjectCollections"] {
                #expect((record[field] as? [Any])?.isEmpty == true, "\(field)")
            }

            let plc = try #require(setup.network.withState { $0.plc[Self.did] })
            #expect(
                plc.verificationMethods == ["atproto": repoKey, "backup": repoKey, "atproto_label": labelKey.didKey])
            #expect(plc.services["atproto_labeler"] == .init(type: "AtprotoLabeler", endpoint: Self.publicURL))
            #expect(plc.services["atproto_pds"]?.endpoint == setup.base)
            #expect(plc.services["custom"]?.endpoint == "https://other.example.com")
            #expect(plc.alsoKnownAs == ["at://labeler.test"])
            #expect(setup.network.withState { $0.plcOperations[Self.did]?.count } == 1)

            // The document now says what the labeler serves with.
            let document = try await setup.resolver.document(for: try DID(Self.did), fresh: true)
            #expect(try document.key("atproto_label") == labelKey)
            #expect(document.serviceEndpoint("atproto_labeler") == Self.publicURL)
        }
    }

    @Test func writesOnlyWhatChanged() async throws {
        try await withNetwork { setup in
            _ = try await setup.declarer().run(try inputs(), dryRun: false)
            let callsAfterFirst = setup.network.calls.count

            // Nothing changed: no login, no write, no PLC call.
            let again = try await setup.declarer(token: nil).run(try inputs(), dryRun: false)
            #expect(again.recordDiff.isEmpty && again.documentChanges.isEmpty)
            #expect(!again.recordWritten && !again.documentUpdated)
            let calls = setup.network.calls.dropFirst(callsAfterFirst)
            #expect(!calls.contains { $0.contains("createSession") || $0.contains("putRecord") || $0.contains("Plc") })

            // A new definition: the record alone is written, with its first createdAt.
            var later = try inputs([Self.spam, Self.scam])
            later.createdAt = "2027-01-01T00:00:00.000Z"
            let third = try await setup.declarer(token: nil).run(later, dryRun: false)
            #expect(third.recordWritten && !third.documentUpdated)
            #expect(third.recordDiff.contains { $0.hasPrefix("+ ") && $0.contains("\"scam\"") })
            #expect(!third.recordDiff.contains { $0.contains("createdAt") })
            let record = try #require(try record(setup.network))
            #expect((record["policies"] as? [String: Any])?["labelValues"] as? [String] == ["spam", "scam"])
            #expect(record["createdAt"] as? String == "2026-12-02T10:00:00.000Z")
            #expect(setup.network.withState { $0.plcOperations[Self.did]?.count } == 1)
        }
    }

    @Test func aDryRunShowsTheChangesAndWritesNothing() async throws {
        try await withNetwork { setup in
            let report = try await setup.declarer().run(try inputs(password: nil), dryRun: true)
            #expect(report.dryRun && !report.recordWritten && !report.documentUpdated)
            #expect(report.recordDiff.contains { $0.contains("\"spam\"") })
            #expect(report.documentChanges.count == 2)
            #expect(try record(setup.network) == nil)
            #expect(!setup.network.calls.contains { $0.hasPrefix("POST") })
            #expect(
                setup.lines.withLock { $0.contains { $0.hasPrefix("DID document: #atproto_label: (none) → did:key:") } }
            )
        }
    }

    @Test func badCredentialsAreOneClearLineAndWriteNothing() async throws {
        try await withNetwork { setup in
            var bad = try inputs()
            bad.password = "wrong"
            await #expect {
                _ = try await setup.declarer().run(bad, dryRun: false)
            } throws: { error in
                let text = "\(error)"
                return text.contains("logging in") && text.contains("Invalid identifier or password")
                    && !text.contains("\n")
            }
            #expect(try record(setup.network) == nil)
            await #expect(throws: Declarer.Failure.self) {
                _ = try await setup.declarer().run(try inputs(password: nil), dryRun: false)
            }
        }
    }

    @Test func aDocumentChangeNeedsTheTokenAndTheRightAccount() async throws {
        try await withNetwork { setup in
            // Logged in, but as another account: nothing is written.
            let other = "did:plc:otherotherotherotherothe"
            setup.network.withState {
                $0.accounts[other] = .init(did: other, handle: "other.test", password: "other-password")
            }
            var wrongAccount = try inputs()
            wrongAccount.identifier = "other.test"
            wrongAccount.password = "other-password"
            await #expect {
                _ = try await setup.declarer().run(wrongAccount, dryRun: false)
            } throws: { "\($0)".contains("logged in as \(other)") }
            #expect(try record(setup.network) == nil)

            // No token given for the PLC change: the record is written, the document is not.
            await #expect {
                _ = try await setup.declarer(token: nil).run(try inputs(), dryRun: false)
            } throws: { "\($0)".contains("needs the emailed token") }
            #expect(try record(setup.network) != nil)
            #expect(setup.network.withState { $0.plcOperations[Self.did] } == nil)

            // The wrong token: the PDS refuses to sign, the directory is untouched.
            await #expect {
                _ = try await setup.declarer(token: "WRONG").run(try inputs(), dryRun: false)
            } throws: { "\($0)".contains("signing the PLC operation") && "\($0)".contains("InvalidToken") }
            #expect(setup.network.withState { $0.plcOperations[Self.did] } == nil)
        }
    }

    @Test func aPDSThatIsDownStopsItBeforeAnyWrite() async throws {
        try await withNetwork { setup in
            setup.network.withState { $0.failing["com.atproto.repo.getRecord"] = 503 }
            await #expect {
                _ = try await setup.declarer().run(try inputs(), dryRun: false)
            } throws: { error in
                "\(error)".contains("reading app.bsky.labeler.service/self from \(setup.base)")
            }
            // The PDS answers no more at all: the address is closed.
            var elsewhere = try inputs()
            elsewhere.pdsURL = "http://127.0.0.1:1"
            await #expect {
                _ = try await setup.declarer().run(elsewhere, dryRun: false)
            } throws: { error in
                "\(error)".contains("http://127.0.0.1:1") && !"\(error)".contains("\n")
            }
            // A PLC step that fails after the record was read leaves the document as it was.
            setup.network.withState {
                $0.failing["com.atproto.repo.getRecord"] = nil
                $0.failing["com.atproto.identity.submitPlcOperation"] = 500
            }
            await #expect(throws: Declarer.Failure.self) {
                _ = try await setup.declarer().run(try inputs(), dryRun: false)
            }
            #expect(setup.network.withState { $0.plc[Self.did]?.verificationMethods["atproto_label"] } == nil)
            #expect(setup.network.withState { $0.plcOperations[Self.did] } == nil)
        }
    }

    @Test func aDIDWebGetsTheFragmentToPublish() async throws {
        try await withNetwork { setup in
            let web = "did:web:labeler.test"
            let doc =
                ##"{"id":"did:web:labeler.test","verificationMethod":[],"service":[{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"\##(setup.base)"}]}"##
            setup.network.withState {
                $0.webDocuments["labeler.test"] = Data(doc.utf8)
                $0.accounts[web] = .init(did: web, handle: "labeler.test", password: "app-password")
            }
            let report = try await setup.declarer().run(try inputs(did: web), dryRun: false)
            #expect(report.recordWritten && !report.documentUpdated)
            let fragment = try #require(report.didWebFragment)
            #expect(fragment.contains(labelKey.multikey) && fragment.contains(Self.publicURL))
            #expect(!setup.network.calls.contains { $0.contains("Plc") })
        }
    }
}

/// `#identity` events reach the resolver, so a rotated key is not served from its cache.
@Suite struct IdentityEventTests {
    @Test func anIdentityEventMakesTheResolverLookAgain() async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let did = "did:plc:rotatingrotatingrotating"
        let first = SigningKey.generate(.secp256k1).publicKey.didKey
        let second = SigningKey.generate(.secp256k1).publicKey.didKey
        network.withState {
            $0.plc[did] = .init(verificationMethods: ["atproto_label": first], alsoKnownAs: [], services: [:])
        }
        var configuration = IdentityResolver.Configuration()
        configuration.plcURL = base + "/plc"
        let resolver = IdentityResolver(configuration: configuration)
        let labeler = EventLabeler(
            evaluator: RuleEvaluator(holder: RuleSetHolder(.empty)), writer: nil,
            identity: resolver, logger: quietLogger())

        #expect(try await resolver.key("atproto_label", of: try DID(did)).didKey == first)
        network.withState { $0.plc[did]?.verificationMethods["atproto_label"] = second }
        #expect(try await resolver.key("atproto_label", of: try DID(did)).didKey == first)  // cached
        try await labeler.handle(
            seq: 9,
            event: .identity(IdentityEvent(seq: 9, did: try DID(did), time: "2026-12-02T10:00:00.000Z", handle: nil)))
        #expect(try await resolver.key("atproto_label", of: try DID(did)).didKey == second)
        await network.stop()
    }
}
