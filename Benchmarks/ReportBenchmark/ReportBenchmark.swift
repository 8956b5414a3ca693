import ATCrypto
import ATProto
import AsyncHTTPClient
import BenchmarkSupport
import Foundation
import Identity
import LabelServer
import LabelStore
import Labeler
import Logging
import NIOCore
import Rules
import TestNetwork

/// How long `com.atproto.moderation.createReport` takes to answer at a steady rate, with the
/// reporters' DID documents already cached: the request limits, the service-auth check (parse,
/// claims, low-S, signature against the cached `#atproto` key, the jti), the body's validation
/// and the report's transaction (durability `full`: one fsync per report), over HTTP.
///
/// Reporters' documents are served by the in-process PLC directory; each reporter files one report
/// first, which resolves and caches its key. Then requests are sent open loop at `--rate` per
/// second for `--seconds` (half the reporters ES256K, half ES256; every report a new subject, so
/// each is an insert). A request's latency runs from the moment it was due, not the moment it went
/// out, so a server that falls behind is charged for the wait. Tokens are made before the run, so
/// the client's signing is not measured; client and server still share the process and its cores.
///
/// With `--rules`, the rules on reports run as in the service (``ReportRuleRunner`` and a label
/// writer in the same process, woken by each report filed): every report is labeled, ten
/// consecutive reports share a subject so the distinct-reporter threshold fires and escalates,
/// and the run waits until every report is evaluated.
///
/// Usage: report-bench [--smoke] [--rules] [--rate N] [--seconds N] [--reporters N]
@main
struct ReportBenchmark {
    static let labeler = "did:plc:reportbenchlabelerlabel"
    static let method = "com.atproto.moderation.createReport"
    /// The target: p99 under this at 200 reports/s.
    static let targetP99Milliseconds = 20.0

    static func main() async throws {
        var options = Options()
        options.parse(Array(CommandLine.arguments.dropFirst()))
        try await withBenchmarkRun("report-bench") { dir, logger in try await run(options, dir: dir, logger: logger) }
    }

    static func run(_ options: Options, dir: URL, logger: Logger) async throws {
        say("report-bench\(options.smoke ? " (smoke)" : ""): \(options)")

        let network = try TestNetwork()
        let base = try await network.start()
        let reporters = (0..<options.reporters).map { n in
            (
                did: "did:plc:" + "benchreporter\(n)".padding(toLength: 24, withPad: "a", startingAt: 0),
                key: SigningKey.generate(n % 2 == 0 ? .secp256k1 : .p256)
            )
        }
        network.withState { state in
            for reporter in reporters {
                state.plc[reporter.did] = .init(
                    verificationMethods: ["atproto": reporter.key.publicKey.didKey], alsoKnownAs: [], services: [:])
            }
        }

        let store = try LabelStore(path: dir.appendingPathComponent("reports.sqlite").path)
        var resolverConfiguration = IdentityResolver.Configuration()
        resolverConfiguration.plcURL = base + "/plc"
        let verifier = ServiceAuthVerifier(resolver: IdentityResolver(configuration: resolverConfiguration))
        let audience = try DID(labeler)
        // The limits are counted (as in production) but set out of reach.
        var intake = ReportIntake(
            limits: ReportLimits(
                .init(perReporterPerDay: 10_000_000, perIPPerMinute: 10_000_000, perMinute: 10_000_000)),
            authenticate: { token, method in
                try await verifier.verify(token, audience: audience, method: method).issuer.rawValue
            })
        let rules = try options.rules ? RuleRun(store: store, logger: logger) : nil
        if let rules { intake.filed = { rules.runner.reportFiled() } }

        var clientConfiguration = HTTPClient.Configuration.singletonConfiguration
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)

        let total = options.rate * options.seconds
        try await withLabelServer(
            store: store, signingKey: SigningKey.generate(.secp256k1), keyID: 1, reports: intake, logger: logger
        ) { _, port in
            let url = "http://127.0.0.1:\(port)/xrpc/\(method)"

            // Warm-up: one report per reporter resolves and caches its DID document.
            for (n, reporter) in reporters.enumerated() {
                let status = try await send(
                    client, url: url, token: try token(reporter.key, issuer: reporter.did),
                    body: body(subject: "warmup\(n)"))
                guard status == 200 else { throw Failure("warm-up report answered \(status)") }
            }
            let fetches = network.calls.filter { $0.contains("/plc/") }.count
            say("warm-up: \(reporters.count) reporters' DID documents cached")

            // Every request's token and body, made before the clock starts.
            let requests = try (0..<total).map { i in
                let reporter = reporters[i % reporters.count]
                let subject = options.rules ? "run\(i / 10)" : "run\(i)"
                return (token: try token(reporter.key, issuer: reporter.did), body: body(subject: subject))
            }
            let clock = ContinuousClock()
            let interval = Duration.seconds(1) / options.rate
            let start = clock.now + .milliseconds(100)
            // Each request's status and latency in milliseconds.
            let answers = await withTaskGroup(of: (Int, Double).self) { senders in
                for (i, request) in requests.enumerated() {
                    let due = start + interval * i
                    try? await Task.sleep(until: due, clock: clock)
                    senders.addTask {
                        let status = (try? await send(client, url: url, token: request.token, body: request.body)) ?? 0
                        return (status, seconds(clock.now - due) * 1000)
                    }
                }
                var answers: [(Int, Double)] = []
                for await answer in senders { answers.append(answer) }
                return answers
            }
            let statuses = Dictionary(answers.map { ($0.0, 1) }, uniquingKeysWith: +)
            let wall = seconds(clock.now - start)
            let sorted = answers.map(\.1).sorted()
            func percentile(_ p: Double) -> Double {
                sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
            }
            let stored = try store.reportCount()
            let plcFetches = network.calls.filter { $0.contains("/plc/") }.count - fetches
            say(
                "requests: \(total) in \(format(wall)) s = \(Int(Double(total) / wall))/s; answers "
                    + statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                    + "; stored \(stored - reporters.count); DID documents fetched during the run: \(plcFetches)")
            say(
                "latency ms: p50 \(format(percentile(0.5))) p90 \(format(percentile(0.9))) "
                    + "p99 \(format(percentile(0.99))) max \(format(sorted.last ?? 0))")
            let met = percentile(0.99) < targetP99Milliseconds
            say(
                "target p99 < \(Int(targetP99Milliseconds)) ms at \(options.rate) reports/s: \(met ? "met" : "NOT met")"
            )
            guard statuses == [200: total], stored - reporters.count == total else {
                throw Failure("every report must be answered 200 and stored once")
            }
            if let rules { try await rules.finish(store: store, after: clock.now, clock: clock) }
        }
        say("peak RSS \(peakResidentMB()) MB")
        try await client.shutdown()
    }

    /// The rules on reports with their own label writer, as `labeler run` wires them.
    struct RuleRun {
        static let rules = """
            rules:
              - id: every-report
                on: [report]
                match: {reason_types: [spam]}
                label: reported
              - id: pile-up
                on: [report]
                match: {all: [{reason_types: [spam, misleading*]}, {reporter: {dismissed_at_most: 3}}]}
                threshold: {count: 5, within: 24h}
                label: needs-review
                escalate: true
              - id: urgent
                on: [report]
                match: {keywords: [home address, phone number], in: [reason]}
                escalate: true
            """
        let runner: ReportRuleRunner
        let tasks: [Task<Void, Never>]

        init(store: LabelStore, logger: Logger) throws {
            let writer = try LabelWriter(store: store, src: labeler, key: .generate(.secp256k1), logger: logger)
            let set = try RuleSet.load(RuleSources(ruleFiles: [.init(path: "rules/reports.yaml", text: Self.rules)]))
            let runner = ReportRuleRunner(
                store: store, holder: RuleSetHolder(set), submit: { try await writer.submit($0) }, logger: logger)
            self.runner = runner
            tasks = [Task { await writer.run() }, Task { await runner.run() }]
        }

        /// Waits until every report is evaluated, says how long that took after the last answer
        /// and what the rules did, and stops the runner and the writer.
        func finish(store: LabelStore, after answered: ContinuousClock.Instant, clock: ContinuousClock) async throws {
            while try !store.reportsAwaitingRules(limit: 1).isEmpty {
                guard clock.now - answered < .seconds(120) else { throw Failure("reports still wait for the rules") }
                try await Task.sleep(for: .milliseconds(2))
            }
            let caughtUp = clock.now - answered
            let totals = runner.totals
            say(
                "rules: \(totals.evaluated) reports evaluated, the last \(format(seconds(caughtUp) * 1000)) ms after "
                    + "the last answer; fired "
                    + totals.fired.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    .joined(separator: ", ") + "; label changes \(totals.changes), escalated \(totals.escalated), "
                    + "failures \(totals.failures)")
            for task in tasks { task.cancel() }
            for task in tasks { await task.value }
            guard totals.failures == 0 else { throw Failure("the rules failed on some report") }
        }
    }

    /// Prints a line at once, so that a run cut short still shows how far it got.
    static func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// A service-auth token as a PDS mints it for a proxied createReport.
    static func token(_ key: SigningKey, issuer: String) throws -> String {
        try ServiceAuthToken.mint(
            key, issuer: issuer, audience: labeler + "#atproto_labeler", method: method, lifetime: 240)
    }

    /// A report of an account, as the app sends it.
    static func body(subject: String) -> String {
        let did = "did:plc:" + subject.padding(toLength: 24, withPad: "a", startingAt: 0)
        return #"{"reasonType":"com.atproto.moderation.defs#reasonSpam","reason":"posts the same link everywhere","#
            + #""subject":{"$type":"com.atproto.admin.defs#repoRef","did":"# + DataModelJSON.quote(did) + "}}"
    }

    static func send(_ client: HTTPClient, url: String, token: String, body: String) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func format(_ x: Double) -> String { String(format: "%.2f", x) }

    /// VmHWM of /proc/self/status in MB (Linux).
    static func peakResidentMB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? -1) / 1024
        }
        return -1
    }
}

struct Options: CustomStringConvertible {
    var smoke = false
    var rules = false
    var rate = 200
    var seconds = 30
    var reporters = 200

    mutating func parse(_ arguments: [String]) {
        var args = arguments
        while !args.isEmpty {
            switch args.removeFirst() {
            case "--smoke":
                smoke = true
                seconds = 2
                reporters = 20
            case "--rules": rules = true
            case "--rate": rate = max(1, Int(args.removeFirst()) ?? rate)
            case "--seconds": seconds = max(1, Int(args.removeFirst()) ?? seconds)
            case "--reporters": reporters = max(1, Int(args.removeFirst()) ?? reporters)
            default: break
            }
        }
    }

    var description: String {
        "\(rate) reports/s for \(seconds) s from \(reporters) reporters (half ES256K, half ES256), warm DID cache"
            + (rules ? ", rules on reports running" : "")
    }
}
