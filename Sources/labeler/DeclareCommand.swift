import ATProto
import ArgumentParser
import Foundation
import Identity
import Labeler

/// `labeler declare`: publishes the labeler (its service record and its DID document entries).
struct DeclareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "declare",
        abstract: "Publish the labeler: its app.bsky.labeler.service record and its DID document entries.",
        discussion: """
            Reads the DID document, the published service record and labels.yaml, prints what \
            differs, and writes only that: the record (policies from labels.yaml and the rules), \
            then #atproto_label (the signing key) and #atproto_labeler (server.public_url) in the \
            DID document. For a did:plc the PDS emails a token to confirm the change (enter it when \
            asked, or pass --token); for a did:web the entries to publish are printed. Logs in as \
            account.identifier (default: did) with the app password in LABELER_ACCOUNT_PASSWORD.
            """)

    @OptionGroup var configurationOption: ConfigurationOption
    @Flag(help: "Print what would change and stop.") var dryRun = false
    @Flag(help: "Print one JSON object: what was found and done.") var json = false
    @Option(help: "The token the PDS emailed for the DID document change.") var token: String?
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let configuration = try configurationOption.load()
        try logging.setUp(configuration)
        let environment = ProcessInfoLite.environmentVariables
        let assembly = LabelerAssembly(configuration: configuration, environment: environment)
        let logger = CommandLineLogging.logger("labeler.declare")
        let inputs: Declarer.Inputs
        let resolver: IdentityResolver
        do {
            let did = try assembly.labelerDID()
            let key = try assembly.signingKey(createIfAbsent: true, logger: logger)
            let policies = try ServicePolicies.of(assembly.ruleSet(missingIsEmpty: false, logger: logger))
            resolver = try assembly.identityResolver()
            inputs = Declarer.Inputs(
                did: did, publicURL: configuration.publicURL, labelKey: key.publicKey,
                labelValues: policies.labelValues, definitions: policies.definitions,
                identifier: configuration.accountIdentifier, pdsURL: configuration.accountPDSURL,
                password: environment[LabelerConfiguration.accountPasswordVariable],
                createdAt: Datetime.now().rawValue)
        } catch {
            throw CommandFailure(error.description)
        }
        let quiet = json
        let given = token
        let declarer = Declarer(
            resolver: resolver, timeout: configuration.identityTimeout * 3,
            say: { line in
                if quiet { writeToStandardError(line + "\n") } else { print(line) }
            },
            token: {
                if let given { return given }
                writeToStandardError("token from the email: ")
                return readLine()?.trimmingCharacters(in: .whitespaces)
            })
        let report: Declarer.Report
        do { report = try await declarer.run(inputs, dryRun: dryRun) } catch { throw CommandFailure(error.description) }
        if json {
            let data = try JSONSerialization.data(
                withJSONObject: report.json, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else if dryRun {
            print("dry run: nothing written")
        } else if !report.recordWritten && !report.documentUpdated && report.didWebFragment == nil {
            print("nothing to change: the labeler is declared")
        }
    }
}
