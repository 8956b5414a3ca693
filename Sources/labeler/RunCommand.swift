import ArgumentParser
import Labeler
import Logging
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the labeler service: ingest, label, store, serve.",
        discussion: """
            Reads the configured relay or Jetstream, runs the rules on every record, signs the \
            labels, stores them with the cursor and serves them (subscribeLabels, queryLabels, \
            health, metrics; docs/operations.md). Without a configuration file every default \
            applies (config/labeler.yaml documents them); LABELER_* variables override both. The \
            signing key is created (mode 0600) on the first start when absent. SIGHUP reloads the \
            rules; SIGTERM or SIGINT stops reading, lets queued events finish, commits and exits 0.
            """
    )

    @OptionGroup var file: ConfigurationOption
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let stop = StopSignals.install()
        let environment = ProcessInfoLite.environmentVariables
        let configuration = try file.load()
        try logging.setUp(configuration)
        let logger = CommandLineLogging.logger("labeler")
        let service: LabelerService
        do {
            service = try LabelerService(configuration: configuration, environment: environment, logger: logger)
        } catch {
            throw CommandFailure(error.description)
        }
        logger.info(
            "labeler starting",
            metadata: [
                "src": "\(service.src)", "did_key": "\(service.key.publicKey.didKey)",
                "source": "\(configuration.sourceKind.rawValue) \(configuration.sourceURL)",
                "cursor": "\(service.storedCursor.map(String.init) ?? "none")", "store": "\(configuration.storePath)",
                "rules": "\(service.reloader.holder.current.summary)",
            ])
        // Signals reach the group through StopSignals, which caught them from the start: a stop
        // asked for while the service was being set up shuts it down as soon as it runs.
        let group = ServiceGroup(
            configuration: .init(
                services: service.services, gracefulShutdownSignals: [], cancellationSignals: [], logger: logger))
        stop.onStop { signal in
            logger.info("stopping", metadata: ["signal": "\(signal)"])
            Task { await group.triggerGracefulShutdown() }
        }
        let announce = Task {
            if let port = try? await service.server.port() {
                logger.info(
                    "serving labels",
                    metadata: [
                        "url": "http://\(configuration.serverHost):\(port)", "port": "\(port)",
                        "admin": "\(configuration.adminToken.isEmpty ? "disabled" : "enabled")",
                    ])
            }
        }
        defer { announce.cancel() }
        do { try await group.run() } catch { throw CommandFailure("\(error)") }
        logger.info("labeler stopped")
    }
}
