import ATProto
import ArgumentParser
import Firehose
import Identity
import KeyedScheduler
import Labeler

/// `labeler capture verify`: every commit of a capture checked as `source.verify` checks live
/// traffic, offline except for DID resolution.
struct CaptureVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every commit of capture files: signature, did and rev, and the inversion proof.",
        discussion: """
            Each #commit is checked as source.verify checks live traffic: the commit object against \
            the event, the sync 1.1 inversion proof when the frame has prevData, and the signature \
            against the account's #atproto key (resolved through identity.plc_url, or the did:web \
            host; a failed signature is checked once more against a fresh document). #account \
            events that make an account inactive fail its later commits; #identity events make its \
            document be fetched again. Exits 1 when any commit fails or any message does not decode.
            """
    )

    @Argument(help: "Capture files (plain, gzip or zstd).")
    var files: [String]

    @OptionGroup var configurationOption: ConfigurationOption

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        var settings = try configurationOption.load()
        try logging.setUp(settings)
        let logger = CommandLineLogging.logger("labeler.capture.verify")
        // Every failure is counted and the capture read to its end: the `log` mode.
        settings.sourceVerify = .log
        for path in files {
            do { _ = try CaptureReader(path: path) } catch { throw CommandFailure(error.description) }
        }
        let assembly = LabelerAssembly(configuration: settings, environment: [:])
        let resolver: IdentityResolver
        do { resolver = try assembly.identityResolver() } catch { throw CommandFailure(error.description) }
        let made: VerificationGate?
        do { made = try assembly.verificationGate(resolver: resolver, logger: logger) } catch {
            throw CommandFailure(error.description)
        }
        guard let gate = made else {
            throw CommandFailure("verification is off")
        }
        // Records are not decoded: no rule reads them here.
        let source = CaptureSource(paths: files, decoder: RepoEventDecoder(decodesRecords: { _ in false }))
        let pipeline = IngestPipeline(
            source: source, store: nil,
            configuration: .init(
                scheduler: KeyedSchedulerConfiguration(
                    concurrency: settings.concurrency, queueLimit: 2_000, perKeyBacklogLimit: 250),
                verification: gate),
            logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        let summary: IngestPipeline.Summary
        do {
            summary = try await pipeline.run(handler: { _, event in
                if case .identity(let change) = event { await resolver.invalidate(change.did) }
            })
        } catch {
            throw CommandFailure("\(error)")
        }
        let seconds = (clock.now - start).inSeconds
        let counts = gate.counts
        let undecodable = source.counts.undecodable + summary.undecodable + summary.rejected
        let lookups = gate.verifier.lookupCounts
        let fields: [(String, String)] = [
            ("messages", "\(source.counts.messages)"), ("commits", "\(summary.commits)"),
            ("verified", "\(counts.verified)"), ("without_proof", "\(counts.withoutProof)"),
            ("failed", "\(counts.failures)"), ("undecodable", "\(undecodable)"),
            ("key_lookups", "\(lookups.lookups)"), ("key_lookup_failures", "\(lookups.failures)"),
            ("seconds", fixed(seconds, 3)),
            (
                "failed_by_reason",
                "{"
                    + counts.failed.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(
                        separator: ",")
                    + "}"
            ),
        ]
        if json {
            print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        } else {
            let width = fields.map(\.0.count).max() ?? 0
            for (key, value) in fields { print(key + String(repeating: " ", count: width - key.count) + "  " + value) }
            for line in counts.firstFailures { print("failed: " + line) }
        }
        if counts.failures > 0 || undecodable > 0 { throw ExitCode(1) }
    }
}
