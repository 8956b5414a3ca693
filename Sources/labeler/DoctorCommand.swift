import ArgumentParser
import Foundation
import Labeler

/// `labeler doctor`: is everything in place for the network to show this labeler's labels?
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that the network can find, trust and read this labeler; say how to fix what is wrong.",
        discussion: """
            Checks, in order: config, signing_key, did_document, label_key, labeler_endpoint, \
            service_record, label_values, public_health, public_stream, relay. Each prints ✔ or ✘ \
            and, on ✘, what to do. The exit status is 1 when any check fails.
            """)

    @OptionGroup var configurationOption: ConfigurationOption
    @Flag(help: #"Print one JSON object: {"ok", "checks": [{"name", "ok", "message"}]}."#) var json = false

    func run() async throws {
        let environment = ProcessInfoLite.environmentVariables
        let loaded: Result<LabelerConfiguration, LabelerAssembly.Failure>
        do {
            loaded = .success(
                try LabelerConfiguration.load(explicit: configurationOption.config, environment: environment)
                    .configuration)
        } catch {
            loaded = .failure(LabelerAssembly.Failure(error.description))
        }
        var policies: Result<ServicePolicies, LabelerAssembly.Failure> = .failure(
            .init("the configuration does not load"))
        if case .success(let configuration) = loaded {
            let assembly = LabelerAssembly(configuration: configuration, environment: environment)
            CommandLineLogging.setUp(configuration.log)
            var logger = CommandLineLogging.logger("labeler.doctor")
            logger.logLevel = .error
            do {
                policies = .success(try ServicePolicies.of(assembly.ruleSet(missingIsEmpty: false, logger: logger)))
            } catch {
                policies = .failure(error)
            }
        }
        let checks = await LabelerDoctor().run(
            .init(configuration: loaded, environment: environment, policies: policies))
        let ok = checks.allSatisfy(\.ok)
        if json {
            let object: [String: Any] = [
                "ok": ok,
                "checks": checks.map { ["name": $0.name, "ok": $0.ok, "message": $0.message] as [String: Any] },
            ]
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for check in checks { print("\(check.ok ? "✔" : "✘") \(check.name): \(check.message)") }
        }
        if !ok { throw ExitCode(1) }
    }
}
