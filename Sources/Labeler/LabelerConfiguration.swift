import ATProto
import Foundation
import LabelServer
import LabelStore
import Logging
import Yams

/// Everything `labeler run` can be told, each with a default that runs: `config/labeler.yaml`
/// (every key optional), then `LABELER_*` environment variables on top. An unknown key or a bad
/// value stops the start with one line saying where and what.
public struct LabelerConfiguration: Sendable, Equatable {
    public enum SourceKind: String, Sendable, CaseIterable { case relay, jetstream }
    public enum KeyKind: String, Sendable, CaseIterable { case secp256k1, p256 }

    /// The labeler's DID (the labels' `src`); empty means the key's did:key.
    public var did = ""
    public var sourceKind = SourceKind.relay
    public var sourceURL = "wss://bsky.network"
    /// Empty: the collections the loaded rules read.
    public var sourceCollections: [String] = []
    /// Jetstream's zstd dictionary file (enables `compress=true`).
    public var sourceZstdDictionary = ""
    /// Least milliseconds between two reads of the source's socket while the stream is light:
    /// one wake-up per window for all the events that came in it (0: one per event).
    public var sourceReadWindowMilliseconds = 4
    /// How long connecting to the source (TCP, TLS and the WebSocket upgrade together) may take
    /// before the attempt is given up and retried with backoff.
    public var sourceConnectTimeout = Duration.seconds(10)
    /// Whether commits are checked against their accounts' keys and proofs, and what a failure
    /// does (`off`, `log`, `enforce`). Needs `source.kind: relay`: Jetstream drops the signatures.
    public var sourceVerify = VerifyMode.off
    public var concurrency = 8
    public var queue = 10_000
    public var perKeyQueue = 1_000
    public var rulesPath = "rules"
    public var storePath = "data/labels.sqlite"
    /// `full`: a commit is on disk before its labels are served (the default); `normal`: one
    /// fsync fewer per commit, but an OS crash can take back labels subscribers already have.
    public var storeDurability = LabelStore.Durability.full
    public var signingKey = "data/signing.key"
    public var signingType = KeyKind.secp256k1
    public var serverHost = "127.0.0.1"
    public var serverPort = 14_831
    public var adminToken = ""
    /// The https origin the network reaches this labeler at (what `#atproto_labeler` must say):
    /// scheme, host and port only. Empty until the labeler is put on the network.
    public var publicURL = ""
    /// The PLC directory that resolves did:plc.
    public var identityPLCURL = "https://plc.directory"
    /// How long a resolved DID document or handle is believed (`#identity` events end it sooner).
    public var identityCacheTTL = Duration.seconds(3600)
    /// How long one resolution request may take.
    public var identityTimeout = Duration.seconds(10)
    /// The DNS server for handle lookups, `ip[:port]`; empty: the system's.
    public var identityDNSServer = ""
    /// DID document lookups for commit verification running at once.
    public var identityLookupsInFlight = 8
    /// How long a DID whose lookup failed is left alone (doubling with each failure in a row):
    /// its commits fail verification at once meanwhile, instead of each waiting on the directory.
    public var identityFailureBackoff = Duration.seconds(30)
    /// How `labeler declare` logs in to the labeler's account: a handle or DID (empty: `did`).
    public var accountIdentifier = ""
    /// The account's PDS; empty: the DID document's `#atproto_pds`.
    public var accountPDSURL = ""
    /// Whether `com.atproto.moderation.createReport` is answered (it needs `did`); off, it is a 501.
    public var reportsEnabled = false
    /// The reason types reports may have (from `com.atproto.moderation.defs` or
    /// `tools.ozone.report.defs`).
    public var reportReasonTypes = ReportIntake.defaultReasonTypes
    /// `account`, `record` or both.
    public var reportSubjectTypes = ReportIntake.subjectTypes
    /// The collections whose records may be reported; empty: every collection.
    public var reportSubjectCollections: [String] = []
    /// Reports one account may send per day; 0: no limit.
    public var reportsPerReporterPerDay = ReportLimits.Configuration().perReporterPerDay
    /// createReport requests one address may send per minute, counted before the token is
    /// checked; 0: no limit.
    public var reportsPerIPPerMinute = ReportLimits.Configuration().perIPPerMinute
    /// createReport requests everybody together may send per minute; 0: no limit.
    public var reportsPerMinute = ReportLimits.Configuration().perMinute
    /// Accounts (DIDs) besides the labeler's own that may call the admin endpoint
    /// (`tools.ozone.moderation.emitEvent`) with a service-auth token from their PDS.
    public var reportModerators: [String] = []
    /// The log's format and level, and the status line's interval.
    public var log = LogSettings()
    /// The labeler's global budget: the most labels it sends per second, hour and day (0: no
    /// limit). What does not fit waits in the database and goes out as the windows make room,
    /// people's labels first. The AppView limits what it takes from a labeler; set these to
    /// what it publishes.
    public var labelsPerSecond = 0
    public var labelsPerHour = 0
    public var labelsPerDay = 0
    /// Where an alert goes when a rule trips its budget (Slack-compatible JSON POST); empty: only
    /// the log and `/metrics`.
    public var alertsWebhookURL = ""

    /// `limits.labels_per_*` as the writer takes them; nil without any.
    public var globalBudget: BudgetLimits? {
        var windows: [BudgetWindow: Int] = [:]
        if labelsPerSecond > 0 { windows[.second] = labelsPerSecond }
        if labelsPerHour > 0 { windows[.hour] = labelsPerHour }
        if labelsPerDay > 0 { windows[.day] = labelsPerDay }
        return windows.isEmpty ? nil : BudgetLimits(windows)
    }

    /// The environment variable that holds the account's app password. It is never read from a
    /// file, so the configuration can be committed.
    public static let accountPasswordVariable = "LABELER_ACCOUNT_PASSWORD"

    public init() {}

    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The keys, as written in the file (dotted) and in the environment (`LABELER_` + upper case,
    /// dots as underscores).
    static let keys: [(path: String, apply: @Sendable (inout LabelerConfiguration, Value) throws(Problem) -> Void)] = [
        ("did", { c, v throws(Problem) in c.did = try v.string() }),
        ("source.kind", { c, v throws(Problem) in c.sourceKind = try v.choice() }),
        ("source.url", { c, v throws(Problem) in c.sourceURL = try v.nonEmptyString() }),
        ("source.collections", { c, v throws(Problem) in c.sourceCollections = try v.list() }),
        ("source.zstd_dictionary", { c, v throws(Problem) in c.sourceZstdDictionary = try v.string() }),
        (
            "source.read_window_ms",
            { c, v throws(Problem) in c.sourceReadWindowMilliseconds = try v.int(in: 0...1_000) }
        ),
        (
            "source.connect_timeout",
            { c, v throws(Problem) in c.sourceConnectTimeout = try v.duration(minimum: .milliseconds(1)) }
        ),
        ("source.verify", { c, v throws(Problem) in c.sourceVerify = try v.choice() }),
        ("scheduler.concurrency", { c, v throws(Problem) in c.concurrency = try v.int(in: 1...4096) }),
        ("scheduler.queue", { c, v throws(Problem) in c.queue = try v.int(in: 1...10_000_000) }),
        ("scheduler.per_key_queue", { c, v throws(Problem) in c.perKeyQueue = try v.int(in: 1...10_000_000) }),
        ("rules.path", { c, v throws(Problem) in c.rulesPath = try v.nonEmptyString() }),
        ("store.path", { c, v throws(Problem) in c.storePath = try v.nonEmptyString() }),
        ("store.durability", { c, v throws(Problem) in c.storeDurability = try v.choice() }),
        ("signing.key", { c, v throws(Problem) in c.signingKey = try v.nonEmptyString() }),
        ("signing.type", { c, v throws(Problem) in c.signingType = try v.choice() }),
        ("server.host", { c, v throws(Problem) in c.serverHost = try v.nonEmptyString() }),
        ("server.port", { c, v throws(Problem) in c.serverPort = try v.int(in: 0...65_535) }),
        ("server.admin_token", { c, v throws(Problem) in c.adminToken = try v.string() }),
        ("server.public_url", { c, v throws(Problem) in c.publicURL = try v.publicOrigin() }),
        ("identity.plc_url", { c, v throws(Problem) in c.identityPLCURL = try v.httpURL() }),
        ("identity.cache_ttl", { c, v throws(Problem) in c.identityCacheTTL = try v.duration() }),
        ("identity.timeout", { c, v throws(Problem) in c.identityTimeout = try v.duration(minimum: .milliseconds(1)) }),
        ("identity.dns_server", { c, v throws(Problem) in c.identityDNSServer = try v.string() }),
        (
            "identity.lookups_in_flight",
            { c, v throws(Problem) in c.identityLookupsInFlight = try v.int(in: 1...1_024) }
        ),
        (
            "identity.failure_backoff",
            { c, v throws(Problem) in c.identityFailureBackoff = try v.duration(minimum: .milliseconds(1)) }
        ),
        ("account.identifier", { c, v throws(Problem) in c.accountIdentifier = try v.string() }),
        (
            "account.pds_url",
            { c, v throws(Problem) in c.accountPDSURL = try v.string().isEmpty ? "" : try v.httpURL() }
        ),
        ("reports.enabled", { c, v throws(Problem) in c.reportsEnabled = try v.bool() }),
        (
            "reports.reason_types",
            { c, v throws(Problem) in
                c.reportReasonTypes = try v.list(of: ReportIntake.knownReasonTypes, what: "reason type")
            }
        ),
        (
            "reports.subject_types",
            { c, v throws(Problem) in
                c.reportSubjectTypes = try v.list(of: Set(ReportIntake.subjectTypes), what: "subject type")
            }
        ),
        (
            "reports.subject_collections",
            { c, v throws(Problem) in
                c.reportSubjectCollections = try v.list()
                for collection in c.reportSubjectCollections where !NSID.isValid(collection) {
                    throw Problem(reason: "'\(collection)' is not a collection NSID")
                }
            }
        ),
        (
            "reports.per_reporter_per_day",
            { c, v throws(Problem) in c.reportsPerReporterPerDay = try v.int(in: 0...10_000_000) }
        ),
        (
            "reports.per_ip_per_minute",
            { c, v throws(Problem) in c.reportsPerIPPerMinute = try v.int(in: 0...10_000_000) }
        ),
        ("reports.per_minute", { c, v throws(Problem) in c.reportsPerMinute = try v.int(in: 0...10_000_000) }),
        (
            "reports.moderators",
            { c, v throws(Problem) in
                c.reportModerators = try v.list()
                for did in c.reportModerators where !DID.isValid(did) {
                    throw Problem(reason: "'\(did)' is not a DID")
                }
            }
        ),
        ("log.format", { c, v throws(Problem) in c.log.format = try v.choice() }),
        ("log.level", { c, v throws(Problem) in c.log.level = try v.choice() }),
        ("log.status_interval", { c, v throws(Problem) in c.log.statusInterval = try v.duration() }),
        ("limits.labels_per_second", { c, v throws(Problem) in c.labelsPerSecond = try v.int(in: 0...10_000_000) }),
        ("limits.labels_per_hour", { c, v throws(Problem) in c.labelsPerHour = try v.int(in: 0...1_000_000_000) }),
        ("limits.labels_per_day", { c, v throws(Problem) in c.labelsPerDay = try v.int(in: 0...1_000_000_000) }),
        (
            "alerts.webhook_url",
            { c, v throws(Problem) in c.alertsWebhookURL = try v.string().isEmpty ? "" : try v.httpURL() }
        ),
    ]

    /// The `log.*` settings from the environment alone, for commands that read no configuration
    /// file; other `LABELER_*` variables are not looked at.
    public static func logSettings(environment: [String: String]) throws(Error) -> LogSettings {
        var configuration = LabelerConfiguration()
        try configuration.apply(environment: environment.filter { $0.key.hasPrefix("LABELER_LOG_") })
        return configuration.log
    }

    static func environmentName(_ path: String) -> String {
        "LABELER_" + path.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// The configuration file for a command: `--config` when given, else `LABELER_CONFIG`, else
    /// `config/labeler.yaml` when it exists, else `/etc/labeler/labeler.yaml` when it exists;
    /// `nil` when none applies (every default). A file named by `--config` or `LABELER_CONFIG`
    /// must exist (`required`).
    public static func locate(
        explicit: String?, environment: [String: String],
        exists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) -> (path: String, required: Bool)? {
        if let explicit { return (explicit, true) }
        if let named = environment[environmentVariable], !named.isEmpty { return (named, true) }
        for path in [localPath, systemPath] where exists(path) { return (path, false) }
        return nil
    }

    /// The variable that names the configuration file.
    public static let environmentVariable = "LABELER_CONFIG"
    /// Where a checkout keeps its configuration (relative to the working folder).
    public static let localPath = "config/labeler.yaml"
    /// Where a system installation keeps it.
    public static let systemPath = "/etc/labeler/labeler.yaml"

    /// The located file (see ``locate(explicit:environment:exists:)``), then the environment;
    /// returns the configuration and the file it came from, if any.
    public static func load(explicit: String?, environment: [String: String]) throws(Error)
        -> (configuration: LabelerConfiguration, file: String?)
    {
        guard let (path, required) = locate(explicit: explicit, environment: environment) else {
            var configuration = LabelerConfiguration()
            try configuration.apply(environment: environment)
            return (configuration, nil)
        }
        return (try load(path: path, required: required, environment: environment), path)
    }

    /// Every key at its default, then the environment: for commands that read no file unless
    /// told to (`replay`) but still take `LABELER_*` settings such as the PLC directory.
    public static func load(environment: [String: String]) throws(Error) -> LabelerConfiguration {
        var configuration = LabelerConfiguration()
        try configuration.apply(environment: environment)
        return configuration
    }

    /// Loads `path` (a missing file is an error only when `required`), then the environment.
    public static func load(path: String, required: Bool, environment: [String: String]) throws(Error)
        -> LabelerConfiguration
    {
        var configuration = LabelerConfiguration()
        if FileManager.default.fileExists(atPath: path) {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw Error(description: "\(path): cannot read: \(error.localizedDescription)")
            }
            try configuration.apply(yaml: text, file: path)
        } else if required {
            throw Error(description: "\(path): no such configuration file")
        }
        try configuration.apply(environment: environment)
        return configuration
    }

    mutating func apply(yaml text: String, file: String) throws(Error) {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw Error(description: "\(file): \(error)") }
        guard let root else { return }
        guard case .mapping = root else { throw Error(description: "\(file):1:1: the configuration must be a mapping") }
        try apply(node: root, prefix: "", file: file)
    }

    private mutating func apply(node: Node, prefix: String, file: String) throws(Error) {
        guard let mapping = node.mapping else { return }
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? ""
            let path = prefix.isEmpty ? key : prefix + "." + key
            let at = "\(file):\(keyNode.mark?.line ?? 1):\(keyNode.mark?.column ?? 1)"
            if let setter = Self.keys.first(where: { $0.path == path })?.apply {
                do { try setter(&self, .yaml(valueNode)) } catch {
                    throw Error(
                        description:
                            "\(file):\(valueNode.mark?.line ?? 1):\(valueNode.mark?.column ?? 1): \(path): \(error.reason)"
                    )
                }
            } else if Self.keys.contains(where: { $0.path.hasPrefix(path + ".") }) {
                guard valueNode.mapping != nil else { throw Error(description: "\(at): \(path) must be a mapping") }
                try apply(node: valueNode, prefix: path, file: file)
            } else {
                let known = Self.keys.map(\.path).filter { $0.hasPrefix(prefix.isEmpty ? "" : prefix + ".") }
                throw Error(description: "\(at): unknown key '\(path)' (known: \(known.joined(separator: ", ")))")
            }
        }
    }

    mutating func apply(environment: [String: String]) throws(Error) {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("LABELER_") {
            guard let key = Self.keys.first(where: { Self.environmentName($0.path) == name }) else {
                // Read by the key loader and the command line, not configuration keys.
                if name == SigningKeyLoader.environmentVariable
                    || name == Self.environmentVariable || name == Self.accountPasswordVariable
                {
                    continue
                }
                throw Error(description: "environment: unknown variable \(name)")
            }
            do { try key.apply(&self, .environment(value)) } catch {
                throw Error(description: "environment: \(name): \(error.reason)")
            }
        }
    }

    /// A value from the file or the environment.
    enum Value {
        case yaml(Node)
        case environment(String)

        func string() throws(Problem) -> String {
            switch self {
            case .environment(let s): return s
            case .yaml(let node):
                guard let s = node.scalar?.string else { throw Problem(reason: "must be a string") }
                return s
            }
        }

        func nonEmptyString() throws(Problem) -> String {
            let s = try string()
            guard !s.isEmpty else { throw Problem(reason: "must not be empty") }
            return s
        }

        func int(in range: ClosedRange<Int>) throws(Problem) -> Int {
            guard let n = Int(try string()) else { throw Problem(reason: "must be a whole number") }
            guard range.contains(n) else {
                throw Problem(reason: "must be between \(range.lowerBound) and \(range.upperBound)")
            }
            return n
        }

        func choice<T: RawRepresentable & CaseIterable>() throws(Problem) -> T where T.RawValue == String {
            let s = try string()
            guard let value = T(rawValue: s) else {
                throw Problem(
                    reason: "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), not '\(s)'")
            }
            return value
        }

        /// `90`, `90s`, `500ms`, `15m`, `1h`, `2d`: a bare number is seconds.
        func duration(minimum: Duration = .zero) throws(Problem) -> Duration {
            let text = try string().trimmingCharacters(in: .whitespaces)
            let units: [(suffix: String, seconds: Double)] = [
                ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400),
            ]
            var number = Substring(text)
            var scale = 1.0
            if let unit = units.first(where: {
                text.hasSuffix($0.suffix) && Double(text.dropLast($0.suffix.count)) != nil
            }) {
                number = text.dropLast(unit.suffix.count)
                scale = unit.seconds
            }
            guard let value = Double(number), value.isFinite, value >= 0 else {
                throw Problem(reason: "must be a duration such as 30s, 15m or 1h, not '\(text)'")
            }
            let duration = Duration.milliseconds(Int64((value * scale * 1000).rounded()))
            guard duration >= minimum else { throw Problem(reason: "must be at least \(minimum)") }
            return duration
        }

        /// An http(s) URL (the PLC directory, a PDS).
        func httpURL() throws(Problem) -> String {
            let text = try nonEmptyString()
            guard let url = URLComponents(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme),
                url.host?.isEmpty == false
            else { throw Problem(reason: "must be an http(s) URL, not '\(text)'") }
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }

        /// Scheme, host and optional port, nothing else: what `#atproto_labeler` may say. Empty
        /// is allowed (not on the network yet).
        func publicOrigin() throws(Problem) -> String {
            let text = try string()
            guard !text.isEmpty else { return "" }
            guard let url = URLComponents(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme),
                url.host?.isEmpty == false
            else { throw Problem(reason: "must be an https origin such as https://labeler.example.com, not '\(text)'") }
            guard url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil, url.user == nil else {
                throw Problem(reason: "must have no path, query or fragment (the network adds /xrpc/...): '\(text)'")
            }
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }

        func bool() throws(Problem) -> Bool {
            switch try string().lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            case let other: throw Problem(reason: "must be true or false, not '\(other)'")
            }
        }

        /// A list whose every entry is one of `allowed`, at least one entry long.
        func list(of allowed: Set<String>, what: String) throws(Problem) -> [String] {
            let entries = try list()
            guard !entries.isEmpty else { throw Problem(reason: "must name at least one \(what)") }
            for entry in entries where !allowed.contains(entry) {
                throw Problem(reason: "'\(entry)' is not a known \(what)")
            }
            return entries
        }

        func list() throws(Problem) -> [String] {
            switch self {
            case .environment(let s):
                return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            case .yaml(let node):
                guard let sequence = node.sequence else { throw Problem(reason: "must be a list") }
                var out: [String] = []
                for item in sequence {
                    guard let s = item.scalar?.string else { throw Problem(reason: "must be a list of strings") }
                    out.append(s)
                }
                return out
            }
        }
    }

    struct Problem: Swift.Error {
        let reason: String
    }
}
