import ArgumentParser
import Labeler

/// `--config PATH`, shared by every command that needs the database, the key, the rules or the
/// DID: the file is `--config`, else `LABELER_CONFIG`, else `config/labeler.yaml`, else
/// `/etc/labeler/labeler.yaml` (the first that applies), with `LABELER_*` on top. A file that
/// does not load stops the command with one line; it is never ignored.
struct ConfigurationOption: ParsableArguments {
    @Option(
        help: "Configuration file (default: $LABELER_CONFIG, else config/labeler.yaml, else /etc/labeler/labeler.yaml)."
    )
    var config: String?

    /// The configuration, or a one-line failure.
    func load() throws -> LabelerConfiguration {
        do {
            return try LabelerConfiguration.load(explicit: config, environment: ProcessInfoLite.environmentVariables)
                .configuration
        } catch {
            throw CommandFailure(error.description)
        }
    }
}
