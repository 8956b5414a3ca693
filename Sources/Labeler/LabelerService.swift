import ATCrypto
import ATProto
import Firehose
import Foundation
import Identity
import KeyedScheduler
import LabelServer
import LabelStore
import Logging
import Rules
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `labeler run`, assembled from its configuration: the store, the signing key, the rules with
/// their reloader, the configured source, the scheduler, the rule engine, the label writer and
/// the server.
/// Everything that can be wrong with the configuration (an unreadable key, rules that do not load,
/// a bad URL) is found here, before anything runs, and reported as one line.
public final class LabelerService: Sendable {
    public struct StartError: Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
    }

    public let configuration: LabelerConfiguration
    public let store: LabelStore
    public let key: SigningKey
    /// The labels' `src`.
    public let src: String
    public let reloader: RuleReloader
    public let labeler: EventLabeler
    /// Resolves DIDs and handles; `#identity` events from the source invalidate what it holds.
    public let identity: IdentityResolver
    public let writer: LabelWriter
    public let pipeline: IngestPipeline
    public let source: any EventSource
    /// The relay source's counters (nil for Jetstream).
    public let relayMetrics: RelaySourceMetrics?
    public let server: LabelServer
    /// Wakes the server's subscribers.
    let commitFeed: CommitFeed
    /// Everything `/metrics` shows.
    public let metrics = MetricsRegistry()
    /// Sends rule-trip alerts to `alerts.webhook_url` (nil when none is set).
    public let alerter: TripAlerter?
    /// The rules on reports, when reports are enabled.
    public let reportRules: ReportRuleRunner?
    /// Forgets stored threshold hits no rule can count any more.
    let thresholdPruner: ThresholdHitPruner
    let logger: Logger

    public init(configuration: LabelerConfiguration, environment: [String: String], logger: Logger) throws(StartError) {
        self.configuration = configuration
        self.logger = logger
        // Before anything makes a swift-metrics Timer (the writer's): one made earlier would
        // record nowhere.
        MetricsBackend.start()
        let assembly = LabelerAssembly(configuration: configuration, environment: environment)
        let ruleSet: RuleSet
        do {
            store = try assembly.openStore()
            key = try assembly.signingKey(createIfAbsent: true, logger: logger)
            src = try assembly.src(signingWith: key, withoutDID: .warn(logger))
            ruleSet = try assembly.ruleSet(missingIsEmpty: true, logger: logger)
        } catch {
            throw StartError(description: error.description)
        }
        if !FileManager.default.fileExists(atPath: configuration.rulesPath) {
            // A first start before any rules are written: nothing is labeled until they appear
            // (the reloader notices the folder).
            logger.warning(
                "no rules folder: nothing is labeled until rules are added",
                metadata: ["rules": "\(configuration.rulesPath)"])
        }
        let holder = RuleSetHolder(ruleSet)
        reloader = RuleReloader(holder: holder, directory: configuration.rulesPath, logger: logger)

        // Records are decoded for the configured collections, or else for those the current rules
        // read (a reload that adds a collection takes effect at once).
        let collections = configuration.sourceCollections
        let decodesRecords: @Sendable (String) -> Bool
        if collections.isEmpty {
            decodesRecords = { collection in holder.current.readsRecords(of: collection) }
        } else {
            decodesRecords = { collection in RuleSet.collection(collection, matchesAnyOf: collections) }
        }
        let webSocket = WebSocketClient.Configuration(
            connectTimeout: configuration.sourceConnectTimeout,
            readWindow: .milliseconds(configuration.sourceReadWindowMilliseconds))
        switch configuration.sourceKind {
        case .relay:
            do {
                let relay = try RelaySource(
                    configuration: .init(
                        url: configuration.sourceURL,
                        webSocket: webSocket),
                    decoder: RepoEventDecoder(decodesRecords: decodesRecords), logger: logger)
                source = relay
                relayMetrics = relay.metrics
            } catch {
                throw StartError(description: "source.url: \(error)")
            }
        case .jetstream:
            var dictionary: [UInt8]? = nil
            if !configuration.sourceZstdDictionary.isEmpty {
                do {
                    dictionary = try ZstdDictionaryDecompressor.readDictionary(at: configuration.sourceZstdDictionary)
                } catch {
                    throw StartError(description: "source.zstd_dictionary: \(error.description)")
                }
            }
            // Jetstream filters on its side; it is asked once, at connection time.
            let wanted = collections.isEmpty ? ruleSet.collectionPatternsRead : collections
            do {
                source = try JetstreamSource(
                    configuration: .init(
                        url: configuration.sourceURL, wantedCollections: wanted.contains("*") ? [] : wanted,
                        compressionDictionary: dictionary,
                        webSocket: webSocket),
                    logger: logger)
            } catch {
                throw StartError(description: "source.url: \(error)")
            }
            relayMetrics = nil
        }

        do { identity = try assembly.identityResolver() } catch { throw StartError(description: error.description) }
        if configuration.sourceVerify != .off && configuration.sourceKind != .relay {
            throw StartError(
                description:
                    "source.verify: \(configuration.sourceVerify.rawValue) needs source.kind relay (Jetstream carries no signatures)"
            )
        }

        // The pipeline, the writer that stores its cursor with the labels, and the rules that
        // hand labels to the writer; the pipeline is given the handler and the writer's
        // `cursorAdvanced` when it runs, so nothing here refers back.
        let gate: VerificationGate?
        do { gate = try assembly.verificationGate(resolver: identity, logger: logger, store: store) } catch {
            throw StartError(description: error.description)
        }
        let pipeline = IngestPipeline(
            source: source, store: store,
            configuration: .init(
                scheduler: .init(
                    concurrency: configuration.concurrency, queueLimit: configuration.queue,
                    perKeyBacklogLimit: configuration.perKeyQueue),
                verification: gate),
            logger: logger)
        self.pipeline = pipeline
        do {
            writer = try assembly.labelWriter(
                store: store, key: key, src: src, logger: logger,
                eventSource: source.cursorName, globalBudget: true, drainsQueue: true)
        } catch {
            throw StartError(description: error.description)
        }
        alerter =
            configuration.alertsWebhookURL.isEmpty
            ? nil : TripAlerter(store: store, webhookURL: configuration.alertsWebhookURL, logger: logger)
        let thresholdLogger = logger
        let evaluator = RuleEvaluator(
            holder: holder,
            counts: StoredThresholdCounts(store: store) { error in
                thresholdLogger.error("threshold counts not read", metadata: ["error": "\(error)"])
            },
            eventSource: source.cursorName)
        let labeler = EventLabeler(evaluator: evaluator, writer: writer, identity: identity, logger: logger)
        self.labeler = labeler
        thresholdPruner = ThresholdHitPruner(
            store: store, holder: holder, oldestEventTime: { [labeler] in labeler.takeOldestEventTime() },
            logger: logger)

        let writer = self.writer
        let store = self.store
        let cursorName = self.source.cursorName
        let health = HealthProvider(
            version: LabelerVersion.current,
            cursor: { pipeline.lowWaterMark ?? (try? store.cursor(for: cursorName)) ?? nil },
            secondsBehindRelay: { labeler.secondsBehind })
        let commitFeed = CommitFeed(writerCommits: writer.commits, store: store)
        self.commitFeed = commitFeed
        var reports = try Self.reportIntake(configuration, assembly: assembly, identity: identity)
        if reports != nil {
            let runner = ReportRuleRunner(
                store: store, holder: holder, submit: { changes in try await writer.submit(changes) }, logger: logger)
            reports?.filed = { runner.reportFiled() }
            reportRules = runner
        } else {
            reportRules = nil
        }
        let moderators = try Self.moderatorAuth(configuration, assembly: assembly, identity: identity)
        do {
            server = try LabelServer(
                configuration: .init(
                    host: configuration.serverHost, port: configuration.serverPort,
                    adminToken: configuration.adminToken.isEmpty ? nil : configuration.adminToken),
                store: store, signingKey: key, keyID: writer.currentKeyID,
                submit: { changes in try await writer.submit(changes) }, commits: commitFeed.stream, health: health,
                metrics: metrics, reports: reports, moderators: moderators,
                dashboard: Self.dashboardSource(labeler: labeler, pipeline: pipeline, writer: writer, holder: holder),
                logger: logger)
        } catch {
            throw StartError(description: error.description)
        }
        registerMetrics(on: metrics)
    }

    /// What createReport takes when `reports.enabled`: the configured types, and tokens checked
    /// by a service-auth verifier addressed to our DID, resolving reporters through `identity`.
    static func reportIntake(
        _ configuration: LabelerConfiguration, assembly: LabelerAssembly, identity: IdentityResolver
    ) throws(StartError) -> ReportIntake? {
        guard configuration.reportsEnabled else { return nil }
        let did: DID
        do { did = try assembly.labelerDID() } catch {
            throw StartError(description: "reports.enabled: reports are addressed to the labeler's DID: \(error)")
        }
        let verifier = ServiceAuthVerifier(resolver: identity)
        return ReportIntake(
            reasonTypes: configuration.reportReasonTypes, subjectTypes: configuration.reportSubjectTypes,
            subjectCollections: configuration.reportSubjectCollections,
            limits: ReportLimits(
                .init(
                    perReporterPerDay: configuration.reportsPerReporterPerDay,
                    perIPPerMinute: configuration.reportsPerIPPerMinute, perMinute: configuration.reportsPerMinute)),
            authenticate: { token, method in
                try await verifier.verify(token, audience: did, method: method).issuer.rawValue
            })
    }

    /// Who may call the admin endpoint with service auth: the labeler's own account and
    /// `reports.moderators`, with tokens addressed to our DID. Off without a DID (there is no
    /// audience to check); `reports.moderators` without one is a configuration error.
    static func moderatorAuth(
        _ configuration: LabelerConfiguration, assembly: LabelerAssembly, identity: IdentityResolver
    ) throws(StartError) -> ModeratorAuth? {
        let did: DID
        do { did = try assembly.labelerDID() } catch {
            if configuration.reportModerators.isEmpty { return nil }
            throw StartError(
                description: "reports.moderators: service auth is addressed to the labeler's DID: \(error)")
        }
        var issuers: Set<DID> = [did]
        for moderator in configuration.reportModerators {
            do { issuers.insert(try DID(moderator)) } catch {
                throw StartError(description: "reports.moderators: '\(moderator)' is not a DID")
            }
        }
        let verifier = ServiceAuthVerifier(resolver: identity)
        let allowed = issuers
        return ModeratorAuth { token, method in
            try await verifier.verify(token, audience: did, method: method, issuers: allowed).issuer.rawValue
        }
    }

    /// The stored cursor of the configured source.
    public var storedCursor: Int64? { try? store.cursor(for: source.cursorName) }

    /// The services, in start order; a ServiceGroup shuts them down in reverse: the status line
    /// (when `log.status_interval` is not zero), the trip alerter, the rules on reports (whose
    /// waiting reports are evaluated at the next start), the pruning of old threshold hits and
    /// rules reloading stop first, then
    /// ingest drains and commits, then the commit feed, then the server (which serves until the
    /// last labels are committed).
    public var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(
                service: server, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: commitFeed),
            .init(
                service: IngestService(pipeline: pipeline, labeler: labeler, writer: writer, logger: logger),
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: RuleReloadService(reloader: reloader)),
            .init(service: ThresholdHitPruneService(pruner: thresholdPruner)),
        ]
        if let reportRules { services.append(.init(service: ReportRuleService(runner: reportRules))) }
        if let alerter { services.append(.init(service: TripAlertService(alerter: alerter))) }
        if configuration.log.statusInterval > .zero {
            services.append(.init(service: statusReporter(interval: configuration.log.statusInterval)))
        }
        return services
    }

    /// The periodic status line, over the counters `/metrics` shows.
    func statusReporter(interval: Duration) -> StatusReporter<ContinuousClock> {
        let labeler = self.labeler
        let pipeline = self.pipeline
        let writer = self.writer
        return StatusReporter(interval: interval, clock: ContinuousClock(), logger: logger) {
            let counts = pipeline.counts
            let rules = labeler.totals
            return .init(
                events: rules.events, labels: writer.totals.labels,
                errors: counts.failed + counts.rejected + counts.undecodable + rules.ruleErrors,
                lagSeconds: labeler.secondsBehind, cursor: pipeline.lowWaterMark)
        }
    }
}

/// The pipeline and the label writer as one service: on graceful shutdown the source stops
/// reading, queued events finish and their labels commit, the final cursor is stored with them,
/// and only then does the writer stop.
public struct IngestService: Service {
    let pipeline: IngestPipeline
    let labeler: EventLabeler
    let writer: LabelWriter
    let logger: Logger

    public init(pipeline: IngestPipeline, labeler: EventLabeler, writer: LabelWriter, logger: Logger) {
        self.pipeline = pipeline
        self.labeler = labeler
        self.writer = writer
        self.logger = logger
    }

    public func run() async throws {
        let writerTask = Task { await writer.run() }
        let outcome: Result<IngestPipeline.Summary, any Error>
        do {
            let summary = try await withGracefulShutdownHandler {
                try await pipeline.run(
                    handler: { [labeler] seq, event in try await labeler.handle(seq: seq, event: event) },
                    cursorAdvanced: { [writer] in writer.cursorAdvanced(to: $0) },
                    restartSource: { [writer] in try await writer.restartSource() })
            } onGracefulShutdown: {
                logger.info("stopping: draining queued events")
                pipeline.stop()
            }
            outcome = .success(summary)
        } catch {
            outcome = .failure(error)
        }
        // The writer commits what is queued and the final cursor when cancelled.
        writerTask.cancel()
        await writerTask.value
        let summary = try outcome.get()
        logger.info(
            "ingest stopped",
            metadata: [
                "events": "\(summary.events)", "failed": "\(summary.failed)",
                "cursor": "\(summary.finalCursor.map(String.init) ?? "none")",
                "labels_written": "\(writer.totals.labels)",
            ])
    }
}

/// Rule reloading (SIGHUP and file changes) as a service; it stops on graceful shutdown.
public struct RuleReloadService: Service {
    let reloader: RuleReloader

    public init(reloader: RuleReloader) { self.reloader = reloader }

    public func run() async throws {
        reloader.listenForSIGHUP()
        await cancelWhenGracefulShutdown { await reloader.run() }
    }
}
