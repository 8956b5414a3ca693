import ATCrypto
import Firehose
import Foundation
import TestSupport
import Testing

@testable import Labeler

/// `labeler run`'s assembly from its configuration, without running it.
@Suite struct LabelerServiceTests {
    static func configuration(rules: String? = nil) throws -> LabelerConfiguration {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "labeler-service-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: folder + "/rules", withIntermediateDirectories: true)
        try
            (rules ?? """
                rules:
                  - id: coffee
                    on: [post]
                    match: {keywords: [coffee]}
                    label: coffee
                  - id: things
                    on: [com.example.*]
                    match: {keywords: [coffee]}
                    label: coffee
                """).write(toFile: folder + "/rules/r.yaml", atomically: true, encoding: .utf8)
        var configuration = LabelerConfiguration()
        configuration.rulesPath = folder + "/rules"
        configuration.storePath = folder + "/data/labels.sqlite"
        configuration.signingKey = folder + "/data/signing.key"
        return configuration
    }

    @Test func jetstreamAsksForTheCollectionsTheRulesRead() throws {
        var configuration = try Self.configuration()
        configuration.sourceKind = .jetstream
        configuration.sourceURL = "wss://jetstream.example/subscribe"
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        let jetstream = try #require(service.source as? JetstreamSource)
        #expect(jetstream.configuration.wantedCollections == ["app.bsky.feed.post", "com.example.*"])
        #expect(service.relayMetrics == nil)
        #expect(service.src == service.key.publicKey.didKey)
    }

    /// Both sources serve their connection metrics under the same names (and the rest is
    /// served either way).
    @Test(arguments: [LabelerConfiguration.SourceKind.relay, .jetstream])
    func everySourceServesItsConnectionMetrics(kind: LabelerConfiguration.SourceKind) throws {
        var configuration = try Self.configuration()
        configuration.sourceKind = kind
        if kind == .jetstream { configuration.sourceURL = "wss://jetstream.example/subscribe" }
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        let served = service.metrics.render()
        for name in [
            "labeler_source_messages_total", "labeler_source_connections_total", "labeler_source_reconnects_total",
            "labeler_source_http_errors_total", "labeler_source_connect_timeouts_total",
            "labeler_source_close_frames_total", "labeler_source_reconnect_delay_seconds",
            "labeler_threshold_hits_forgotten_total",
        ] {
            #expect(served.contains("# TYPE \(name) "), "\(name) is not served for \(kind)")
        }
    }

    @Test func theRelayIsTheDefaultAndTheConfiguredDIDIsTheSource() throws {
        var configuration = try Self.configuration()
        configuration.did = "did:plc:labelerexample"
        configuration.signingType = .p256
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        #expect(service.source is RelaySource)
        #expect(service.src == "did:plc:labelerexample")
        #expect(service.key.publicKey.didKey.hasPrefix("did:key:zDn"))  // a new P-256 key
    }

    @Test func theKeyCanComeFromTheEnvironment() throws {
        let configuration = try Self.configuration()
        let text = "secp256k1:" + String(repeating: "1", count: 64)
        let service = try LabelerService(
            configuration: configuration, environment: [SigningKeyLoader.environmentVariable: text],
            logger: quietLogger())
        #expect(service.key.publicKey.didKey == (try ATCryptoKey.parse(text)))
        #expect(!FileManager.default.fileExists(atPath: configuration.signingKey))
    }

    @Test func jetstreamReadsItsDictionaryFile() throws {
        var configuration = try Self.configuration()
        configuration.sourceKind = .jetstream
        configuration.sourceURL = "wss://jetstream.example/subscribe"
        configuration.sourceZstdDictionary = configuration.rulesPath + "/../zstd_dictionary"
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: configuration.sourceZstdDictionary))
        let service = try LabelerService(configuration: configuration, environment: [:], logger: quietLogger())
        let jetstream = try #require(service.source as? JetstreamSource)
        #expect(jetstream.configuration.compressionDictionary == bytes)
    }

    @Test func startProblemsAreOneClearLine() throws {
        var badDID = try Self.configuration()
        badDID.did = "not-a-did"
        #expect(throws: LabelerService.StartError(description: "did: 'not-a-did' is not a DID")) {
            try LabelerService(configuration: badDID, environment: [:], logger: quietLogger())
        }
        let badRules = try Self.configuration(
            rules: "rules:\n  - id: x\n    on: [post]\n    match: {regex: '('}\n    label: x\n")
        let error = #expect(throws: LabelerService.StartError.self) {
            try LabelerService(configuration: badRules, environment: [:], logger: quietLogger())
        }
        #expect(error?.description.hasSuffix("rules: the rules do not load (1 problems)") == true)
        var missingDictionary = try Self.configuration()
        missingDictionary.sourceKind = .jetstream
        missingDictionary.sourceURL = "wss://jetstream.example/subscribe"
        missingDictionary.sourceZstdDictionary = "/nonexistent/zstd_dictionary"
        let dictionaryError = #expect(throws: LabelerService.StartError.self) {
            try LabelerService(configuration: missingDictionary, environment: [:], logger: quietLogger())
        }
        #expect(dictionaryError?.description.hasPrefix("source.zstd_dictionary: ") == true)
        let badKey = #expect(throws: LabelerService.StartError.self) {
            try LabelerService(
                configuration: try Self.configuration(),
                environment: [SigningKeyLoader.environmentVariable: "secp256k1:nothex"],
                logger: quietLogger())
        }
        #expect(badKey?.description.hasPrefix("\(SigningKeyLoader.environmentVariable): ") == true)
        #expect(badKey?.description.contains("nothex") == false)  // never the key material
        var badURL = try Self.configuration()
        badURL.sourceURL = "ftp://relay.example"
        #expect(throws: LabelerService.StartError.self) {
            try LabelerService(configuration: badURL, environment: [:], logger: quietLogger())
        }
    }
}

/// The did:key of a key file's text.
enum ATCryptoKey {
    static func parse(_ text: String) throws -> String {
        try KeyFile.parse(text, defaultType: .secp256k1).publicKey.didKey
    }
}
