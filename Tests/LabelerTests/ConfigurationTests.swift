import Foundation
import LabelStore
import TestSupport
import Testing

@testable import Labeler

@Suite struct ConfigurationTests {
    func write(_ text: String) throws -> String {
        let path = temporaryPath("labeler.yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsRunWithNoFile() throws {
        let c = try LabelerConfiguration.load(path: "/nonexistent/labeler.yaml", required: false, environment: [:])
        #expect(c == LabelerConfiguration())
        #expect(c.sourceURL == "wss://bsky.network" && c.concurrency == 8 && c.serverPort == 14831)
        #expect(throws: LabelerConfiguration.Error.self) {
            try LabelerConfiguration.load(path: "/nonexistent/labeler.yaml", required: true, environment: [:])
        }
    }

    /// The shipped file documents every key with its default value.
    /// `--config`, then `LABELER_CONFIG`, then `config/labeler.yaml`, then
    /// `/etc/labeler/labeler.yaml`; a file named by either of the first two must exist.
    @Test func theFileIsFoundInOrder() throws {
        let local = LabelerConfiguration.localPath, system = LabelerConfiguration.systemPath
        let both: (String) -> Bool = { $0 == local || $0 == system }
        let named = ["LABELER_CONFIG": "/srv/labeler.yaml"]
        #expect(
            LabelerConfiguration.locate(explicit: "/x.yaml", environment: named, exists: both)! == ("/x.yaml", true))
        #expect(
            LabelerConfiguration.locate(explicit: nil, environment: named, exists: both)! == ("/srv/labeler.yaml", true)
        )
        #expect(LabelerConfiguration.locate(explicit: nil, environment: [:], exists: both)! == (local, false))
        #expect(
            LabelerConfiguration.locate(explicit: nil, environment: [:], exists: { $0 == system })! == (system, false))
        #expect(
            LabelerConfiguration.locate(explicit: nil, environment: ["LABELER_CONFIG": ""], exists: { _ in false })
                == nil)
        // LABELER_CONFIG names the file; it is not an unknown configuration key.
        let path = try write("server:\n  port: 9\n")
        let (c, file) = try LabelerConfiguration.load(explicit: nil, environment: ["LABELER_CONFIG": path])
        #expect(file == path && c.serverPort == 9)
        #expect(throws: LabelerConfiguration.Error.self) {
            try LabelerConfiguration.load(explicit: nil, environment: ["LABELER_CONFIG": "/nonexistent/labeler.yaml"])
        }
    }

    @Test func theShippedFileIsTheDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/labeler.yaml").path
        let c = try LabelerConfiguration.load(path: path, required: true, environment: [:])
        #expect(c == LabelerConfiguration())
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for key in LabelerConfiguration.keys.map(\.path) {
            #expect(text.contains(String(key.split(separator: ".").last!) + ":"), "\(key) is not documented")
        }
    }

    @Test func fileThenEnvironment() throws {
        let path = try write(
            """
            source:
              kind: jetstream
              url: wss://jetstream2.us-east.bsky.network/subscribe
              collections: [app.bsky.feed.post, app.bsky.actor.profile]
            scheduler: {concurrency: 2}
            server:
              port: 9000
            """)
        let c = try LabelerConfiguration.load(
            path: path, required: true,
            environment: [
                "LABELER_SERVER_PORT": "9100", "LABELER_SCHEDULER_PER_KEY_QUEUE": "5",
                "LABELER_SOURCE_COLLECTIONS": "a.b.c, d.e.f", "LABELER_LOG_LEVEL": "debug", "PATH": "/bin",
                "LABELER_STORE_DURABILITY": "normal", "LABELER_SOURCE_CONNECT_TIMEOUT": "2500ms",
            ])
        #expect(c.sourceKind == .jetstream && c.sourceURL.hasPrefix("wss://jetstream2"))
        #expect(c.concurrency == 2 && c.perKeyQueue == 5)
        #expect(c.serverPort == 9100)  // the environment wins
        #expect(c.sourceCollections == ["a.b.c", "d.e.f"])
        #expect(c.storeDurability == .normal && LabelerConfiguration().storeDurability == .full)
        #expect(
            c.sourceConnectTimeout == .milliseconds(2500) && LabelerConfiguration().sourceConnectTimeout == .seconds(10)
        )
    }

    @Test(arguments: [
        (
            "scheduler:\n  concurency: 4\n",
            ":2:3: unknown key 'scheduler.concurency' (known: scheduler.concurrency, scheduler.queue, scheduler.per_key_queue)"
        ),
        ("colour: red\n", ":1:1: unknown key 'colour'"),
        ("server:\n  port: 70000\n", ":2:9: server.port: must be between 0 and 65535"),
        ("source:\n  kind: firehose\n", ":2:9: source.kind: must be one of relay, jetstream, not 'firehose'"),
        ("scheduler:\n  concurrency: many\n", ":2:16: scheduler.concurrency: must be a whole number"),
        ("source:\n  collections: app.bsky.feed.post\n", ":2:16: source.collections: must be a list"),
        ("store: data.sqlite\n", ":1:1: store must be a mapping"),
        ("store:\n  durability: sometimes\n", ":2:15: store.durability: must be one of full, normal, not 'sometimes'"),
        (
            "server:\n  public_url: https://labeler.example.com/xrpc\n",
            ":2:15: server.public_url: must have no path, query or fragment"
        ),
        ("server:\n  public_url: labeler.example.com\n", ":2:15: server.public_url: must be an https origin"),
        ("identity:\n  cache_ttl: an hour\n", ":2:14: identity.cache_ttl: must be a duration such as 30s"),
        ("identity:\n  timeout: 0s\n", ":2:12: identity.timeout: must be at least"),
        ("source:\n  connect_timeout: soon\n", ":2:20: source.connect_timeout: must be a duration such as 30s"),
        ("identity:\n  plc_url: plc.directory\n", ":2:12: identity.plc_url: must be an http(s) URL"),
        ("account:\n  pds_url: ftp://pds.example.com\n", ":2:12: account.pds_url: must be an http(s) URL"),
    ])
    func badFilesSayWhereAndWhat(_ yaml: String, _ message: String) throws {
        let path = try write(yaml)
        #expect {
            _ = try LabelerConfiguration.load(path: path, required: true, environment: [:])
        } throws: { error in
            let text = (error as? LabelerConfiguration.Error)?.description ?? ""
            return text.hasPrefix(path + message)
        }
    }

    @Test func goingLiveKeys() throws {
        let path = try write(
            """
            server: {public_url: "https://labeler.example.com/"}
            identity: {plc_url: "http://127.0.0.1:2582", cache_ttl: 15m, timeout: 500ms, dns_server: "10.0.0.2:5353"}
            account: {identifier: labeler.example.com, pds_url: "https://pds.example.com"}
            """)
        let c = try LabelerConfiguration.load(
            path: path, required: true,
            environment: ["LABELER_ACCOUNT_PASSWORD": "app-password", "LABELER_IDENTITY_CACHE_TTL": "90"])
        #expect(c.publicURL == "https://labeler.example.com")
        #expect(c.identityPLCURL == "http://127.0.0.1:2582" && c.identityTimeout == .milliseconds(500))
        #expect(c.identityCacheTTL == .seconds(90) && c.identityDNSServer == "10.0.0.2:5353")
        #expect(c.accountIdentifier == "labeler.example.com" && c.accountPDSURL == "https://pds.example.com")
        #expect(LabelerConfiguration().identityCacheTTL == .seconds(3600))
    }

    @Test func reportLimitKeys() throws {
        let path = try write("reports: {per_reporter_per_day: 10, per_ip_per_minute: 0}\n")
        let c = try LabelerConfiguration.load(
            path: path, required: true, environment: ["LABELER_REPORTS_PER_MINUTE": "120"])
        #expect(c.reportsPerReporterPerDay == 10 && c.reportsPerIPPerMinute == 0 && c.reportsPerMinute == 120)
        let defaults = LabelerConfiguration()
        #expect(defaults.reportsPerReporterPerDay == 50)
        #expect(defaults.reportsPerIPPerMinute == 300 && defaults.reportsPerMinute == 1_000)
        #expect {
            _ = try LabelerConfiguration.load(
                path: "/nonexistent", required: false, environment: ["LABELER_REPORTS_PER_IP_PER_MINUTE": "-1"])
        } throws: {
            ($0 as? LabelerConfiguration.Error)?.description
                == "environment: LABELER_REPORTS_PER_IP_PER_MINUTE: must be between 0 and 10000000"
        }
    }

    @Test func budgetAndAlertKeys() throws {
        #expect(LabelerConfiguration().globalBudget == nil)
        let path = try write(
            "limits: {labels_per_second: 20, labels_per_day: 0}\nalerts: {webhook_url: \"https://hooks.example/x\"}\n")
        let c = try LabelerConfiguration.load(
            path: path, required: true, environment: ["LABELER_LIMITS_LABELS_PER_HOUR": "3000"])
        #expect(c.globalBudget == BudgetLimits([.second: 20, .hour: 3000]))
        #expect(c.alertsWebhookURL == "https://hooks.example/x")
        #expect {
            _ = try LabelerConfiguration.load(
                path: "/nonexistent", required: false, environment: ["LABELER_ALERTS_WEBHOOK_URL": "ftp://x"])
        } throws: {
            ($0 as? LabelerConfiguration.Error)?.description
                == "environment: LABELER_ALERTS_WEBHOOK_URL: must be an http(s) URL, not 'ftp://x'"
        }
    }

    @Test func logKeys() throws {
        let defaults = LabelerConfiguration()
        #expect(defaults.log == LogSettings(format: .text, level: .info, statusInterval: .seconds(60)))
        let path = try write("log: {format: json, level: warning, status_interval: 15s}\n")
        let c = try LabelerConfiguration.load(path: path, required: true, environment: [:])
        #expect(c.log == LogSettings(format: .json, level: .warning, statusInterval: .seconds(15)))
        // The environment wins over the file, key by key.
        let mixed = try LabelerConfiguration.load(
            path: path, required: true, environment: ["LABELER_LOG_LEVEL": "debug", "LABELER_LOG_STATUS_INTERVAL": "0"])
        #expect(mixed.log == LogSettings(format: .json, level: .debug, statusInterval: .zero))
        // Commands that read no file take the log keys alone, whatever else LABELER_* holds.
        let alone = try LabelerConfiguration.logSettings(environment: [
            "LABELER_LOG_FORMAT": "json", "LABELER_NOT_A_KEY": "x", "LABELER_SERVER_PORT": "not a port",
        ])
        #expect(alone == LogSettings(format: .json, level: .info))
    }

    @Test(arguments: [
        ("log:\n  format: xml\n", ":2:11: log.format: must be one of text, json, not 'xml'"),
        (
            "log:\n  level: verbose\n",
            ":2:10: log.level: must be one of trace, debug, info, notice, warning, error, critical, not 'verbose'"
        ),
        ("log:\n  status_interval: often\n", ":2:20: log.status_interval: must be a duration such as 30s"),
    ])
    func badLogKeysSayWhereAndWhat(_ yaml: String, _ message: String) throws {
        try badFilesSayWhereAndWhat(yaml, message)
    }

    @Test func badLogEnvironmentSaysWhich() {
        #expect {
            _ = try LabelerConfiguration.logSettings(environment: ["LABELER_LOG_FORMAT": "logfmt"])
        } throws: {
            ($0 as? LabelerConfiguration.Error)?.description
                == "environment: LABELER_LOG_FORMAT: must be one of text, json, not 'logfmt'"
        }
        #expect {
            _ = try LabelerConfiguration.load(environment: ["LABELER_LOG_LEVEL": "loud"])
        } throws: {
            ($0 as? LabelerConfiguration.Error)?.description
                == "environment: LABELER_LOG_LEVEL: must be one of trace, debug, info, notice, warning, error, critical, not 'loud'"
        }
    }

    @Test func badEnvironmentSaysWhich() {
        #expect {
            _ = try LabelerConfiguration.load(
                path: "/nonexistent", required: false, environment: ["LABELER_SERVER_PROT": "1"])
        } throws: {
            ($0 as? LabelerConfiguration.Error)?.description == "environment: unknown variable LABELER_SERVER_PROT"
        }
        #expect {
            _ = try LabelerConfiguration.load(
                path: "/nonexistent", required: false, environment: ["LABELER_SCHEDULER_CONCURRENCY": "0"])
        } throws: {
            ($0 as? LabelerConfiguration.Error)?.description
                == "environment: LABELER_SCHEDULER_CONCURRENCY: must be between 1 and 4096"
        }
    }
}
