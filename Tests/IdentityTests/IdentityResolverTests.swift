import ATCrypto
import ATProto
import Foundation
import TestNetwork
import Testing

@testable import Identity

/// The resolver against an in-process PLC directory, web host and DNS server: nothing here
/// reaches the real network.
@Suite struct IdentityResolverTests {
    let labelKey = SigningKey.generate(.secp256k1).publicKey.didKey
    let did = try! DID("did:plc:ewvi7nxzyoun6zhxrhs64oiz")

    func withNetwork(
        timeout: Duration = .seconds(30), dnsTimeout: Duration = .seconds(30), ttl: Duration = .seconds(3600),
        _ body: (TestNetwork, TestDNSServer, IdentityResolver) async throws -> Void
    ) async throws {
        let network = try TestNetwork()
        let base = try await network.start()
        let dns = try await TestDNSServer()
        var configuration = IdentityResolver.Configuration()
        configuration.plcURL = base + "/plc"
        configuration.timeout = timeout
        configuration.dnsTimeout = dnsTimeout
        configuration.cacheTTL = ttl
        configuration.dnsServer = try DNSTXTClient.parseServer(dns.address)
        configuration.origin = { host in base + "/web/" + host }
        network.withState {
            $0.plc[did.rawValue] = .init(
                verificationMethods: ["atproto": labelKey, "atproto_label": labelKey],
                alsoKnownAs: ["at://alice.test"],
                services: ["atproto_pds": .init(type: "AtprotoPersonalDataServer", endpoint: "https://pds.test")])
        }
        do {
            try await body(network, dns, IdentityResolver(configuration: configuration))
        } catch {
            await network.stop()
            await dns.close()
            throw error
        }
        await network.stop()
        await dns.close()
    }

    @Test func resolvesPLCAndCachesTheDocument() async throws {
        try await withNetwork { network, _, resolver in
            let document = try await resolver.document(for: did)
            #expect(try document.key("atproto_label").didKey == labelKey)
            #expect(document.serviceEndpoint("atproto_pds") == "https://pds.test")
            _ = try await resolver.document(for: did)
            #expect(await resolver.fetches == 1)
            _ = try await resolver.document(for: did, fresh: true)
            #expect(await resolver.fetches == 2)
            #expect(network.calls.filter { $0.contains("/plc/") }.count == 2)
        }
    }

    @Test func concurrentRequestsShareOneFetch() async throws {
        try await withNetwork { network, _, resolver in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 { group.addTask { _ = try await resolver.document(for: did) } }
                try await group.waitForAll()
            }
            #expect(network.calls.filter { $0.contains("/plc/") }.count == 1)
        }
    }

    @Test func anExpiredOrInvalidatedEntryIsFetchedAgain() async throws {
        try await withNetwork(ttl: .zero) { _, _, resolver in
            _ = try await resolver.document(for: did)
            _ = try await resolver.document(for: did)
            #expect(await resolver.fetches == 2)
        }
        try await withNetwork { network, _, resolver in
            _ = try await resolver.document(for: did)
            // The key rotates; the cache still has the old one until an #identity event says so.
            let rotated = SigningKey.generate(.p256).publicKey.didKey
            network.withState { $0.plc[did.rawValue]?.verificationMethods["atproto_label"] = rotated }
            #expect(try await resolver.key("atproto_label", of: did).didKey == labelKey)
            await resolver.invalidate(did)
            #expect(try await resolver.key("atproto_label", of: did).didKey == rotated)
        }
    }

    @Test func unknownDIDsAndBadAnswersAreTypedErrors() async throws {
        try await withNetwork { network, _, resolver in
            let unknown = try DID("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
            await #expect(throws: IdentityError.notFound(unknown.rawValue)) {
                try await resolver.document(for: unknown)
            }
            network.withState { $0.failing["plc"] = 500 }
            await #expect(throws: IdentityError.self) { try await resolver.document(for: did) }
            await #expect(throws: IdentityError.unsupportedMethod(try DID("did:example:abc"))) {
                try await resolver.document(for: try DID("did:example:abc"))
            }
        }
    }

    @Test func aHostThatNeverAnswersTimesOut() async throws {
        try await withNetwork(timeout: .milliseconds(300)) { network, _, resolver in
            network.withState { $0.hanging.insert("plc") }
            do {
                _ = try await resolver.document(for: did)
                Issue.record("a hanging directory must time out")
            } catch let error as IdentityError {
                guard case .timeout = error else {
                    Issue.record("expected a timeout, got \(error)")
                    return
                }
            }
        }
    }

    @Test func resolvesDIDWebFromTheHost() async throws {
        try await withNetwork { network, _, resolver in
            let web = try DID("did:web:labeler.test")
            let multikey = labelKey.dropFirst("did:key:".count)
            let json =
                ##"{"id":"did:web:labeler.test","verificationMethod":[{"id":"#atproto_label","type":"Multikey","publicKeyMultibase":"\##(multikey)"}],"service":[]}"##
            network.withState { $0.webDocuments["labeler.test"] = Data(json.utf8) }
            #expect(try await resolver.key("atproto_label", of: web).didKey == labelKey)
            // A did:web names a host, never a path.
            await #expect(throws: IdentityError.self) {
                try await resolver.document(for: try DID("did:web:labeler.test:path"))
            }
            // The document must be the one asked for.
            network.withState { $0.webDocuments["other.test"] = Data(json.utf8) }
            await #expect(throws: IdentityError.self) {
                try await resolver.document(for: try DID("did:web:other.test"))
            }
            // A host that answers more than a document can be is cut off, not read to the end.
            let padding = String(repeating: " ", count: DIDDocument.maximumSize)
            network.withState { $0.webDocuments["huge.test"] = Data((json + padding).utf8) }
            do {
                _ = try await resolver.document(for: try DID("did:web:huge.test"))
                Issue.record("an oversized document must be refused")
            } catch let error as IdentityError {
                guard case .badDocument(let reason) = error, reason.contains("larger than") else {
                    Issue.record("expected an oversized-answer error, got \(error)")
                    return
                }
            }
        }
    }

    @Test func handlesResolveThroughDNSThenHTTPSAndAreCheckedBothWays() async throws {
        try await withNetwork { network, dns, resolver in
            dns.setTXT("_atproto.alice.test", ["did=\(did)"])
            let alice = try Handle("Alice.Test")
            let verified = try await resolver.verify(handle: alice)
            #expect(verified == did)
            let claimed = try await resolver.verifiedHandle(for: did)
            #expect(claimed.rawValue == "alice.test")

            // No DNS record: the well-known file answers.
            dns.setTXT("_atproto.alice.test", nil)
            network.withState { $0.atprotoDID["alice.test"] = did.rawValue + "\n" }
            let viaHTTPS = try await resolver.resolve(handle: try Handle("alice.test"), fresh: true)
            #expect(viaHTTPS == did)

            // A handle pointing at a DID that does not claim it is refused.
            dns.setTXT("_atproto.bob.test", ["did=\(did)"])
            let bob = try Handle("bob.test")
            await #expect(throws: IdentityError.self) { try await resolver.verify(handle: bob) }
            // Two different DIDs in DNS are refused.
            dns.setTXT("_atproto.carol.test", ["did=\(did)", "did=did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"])
            let carol = try Handle("carol.test")
            await #expect(throws: IdentityError.self) { try await resolver.resolve(handle: carol) }
            // Neither DNS nor HTTPS knows the handle.
            // A DNS record that names something other than a DID.
            dns.setTXT("_atproto.dave.test", ["did=not-a-did"])
            let dave = try Handle("dave.test")
            await #expect(throws: IdentityError.handleMismatch(handle: dave, reason: "DNS names not-a-did, not a DID"))
            {
                try await resolver.resolve(handle: dave)
            }
            let nobody = try Handle("nobody.test")
            await #expect(throws: IdentityError.self) { try await resolver.resolve(handle: nobody) }
        }
    }

    @Test func aSilentDNSServerFallsBackToHTTPS() async throws {
        try await withNetwork(dnsTimeout: .milliseconds(200)) { network, dns, resolver in
            dns.setMode(.silent)
            network.withState { $0.atprotoDID["alice.test"] = did.rawValue }
            let resolved = try await resolver.resolve(handle: try Handle("alice.test"))
            #expect(resolved == did)
        }
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCP() async throws {
        try await withNetwork { _, dns, resolver in
            dns.setMode(.truncateUDP)
            dns.setTXT("_atproto.alice.test", ["did=\(did)"])
            let resolved = try await resolver.resolve(handle: try Handle("alice.test"))
            #expect(resolved == did)
            #expect(dns.queries == (udp: 1, tcp: 1))
        }
    }

    @Test func systemResolverConfiguration() throws {
        let server = try DNSTXTClient.systemServer(
            resolvConf: "# comment\nsearch x\nnameserver 10.0.0.2\nnameserver 1.1.1.1\n")
        #expect(server.ipAddress == "10.0.0.2" && server.port == 53)
        #expect(try DNSTXTClient.systemServer(resolvConf: "").ipAddress == "127.0.0.1")
        #expect(try DNSTXTClient.parseServer("[::1]:5353").port == 5353)
        #expect(throws: IdentityError.self) { try DNSTXTClient.parseServer("dns.example.com") }
    }
}
