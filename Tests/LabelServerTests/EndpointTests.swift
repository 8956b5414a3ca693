import ATProto
import Hummingbird
import LabelServer
import LabelStore
import TestSupport
import Testing

@Suite struct EmitEventTests {
    static let path = "/xrpc/tools.ozone.moderation.emitEvent"

    static func body(create: [String] = [], negate: [String] = [], subject: String) -> String {
        func list(_ values: [String]) -> String { "[" + values.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
        return """
            {"event":{"$type":"tools.ozone.moderation.defs#modEventLabel","createLabelVals":\(list(create)),\
            "negateLabelVals":\(list(negate)),"comment":"by hand"},"subject":\(subject),"createdBy":"did:plc:moderator"}
            """
    }

    static let repo = #"{"$type":"com.atproto.admin.defs#repoRef","did":"did:plc:target"}"#
    static let record = """
        {"$type":"com.atproto.repo.strongRef","uri":"at://did:plc:target/app.bsky.feed.post/1",\
        "cid":"bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m"}
        """

    @Test func disabledWithoutAToken() async throws {
        try await Harness.with(over: .router) { h in
            let response = try await h.request(
                Self.path, method: .post, headers: [.authorization: "Bearer x", .contentType: "application/json"],
                body: Self.body(create: ["spam"], subject: Self.repo))
            #expect(response.status == .forbidden)
            #expect(response.xrpcError == "Forbidden")
        }
    }

    @Test func wrongOrMissingTokenIs401() async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = "s3cret-token" }) { h in
            for headers: HTTPFields in [
                [:], [.authorization: "Bearer s3cret-tokem"], [.authorization: "Bearer s3cret-token-and-more"],
                [.authorization: "Basic s3cret-token"], [.authorization: "Bearer "],
            ] {
                let response = try await h.request(
                    Self.path, method: .post, headers: headers, body: Self.body(create: ["spam"], subject: Self.repo))
                #expect(response.status == .unauthorized)
                #expect(response.xrpcError == "AuthenticationRequired")
            }
            #expect(try h.store.lastLabelSeq() == 0)
        }
    }

    @Test func createsAndNegatesLabels() async throws {
        try await Harness.with(configure: { $0.adminToken = "s3cret-token" }) { h in
            let auth: HTTPFields = [.authorization: "Bearer s3cret-token", .contentType: "application/json"]
            let created = try await h.request(
                Self.path, method: .post, headers: auth,
                body: Self.body(create: ["spam", "!hide"], subject: Self.record))
            #expect(created.status == .ok, "\(created.text)")
            let view = try created.json
            #expect(view["id"]?.intValue == 2)
            #expect(view["createdBy"]?.stringValue == "did:plc:moderator")
            #expect(view["subject"]?["uri"]?.stringValue == "at://did:plc:target/app.bsky.feed.post/1")
            #expect(view["event"]?["$type"]?.stringValue == "tools.ozone.moderation.defs#modEventLabel")
            let labels = try await QueryLabelsTests.page(h, "uriPatterns=at://did:plc:target/*").labels
            #expect(labels.map(\.val) == ["spam", "!hide"])
            #expect(labels.allSatisfy { $0.cid == "bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m" })
            #expect(
                try h.store.history(of: try LabelSubject("at://did:plc:target/app.bsky.feed.post/1")).first?.actor
                    == "did:plc:moderator"
            )

            let negated = try await h.request(
                Self.path, method: .post, headers: auth, body: Self.body(negate: ["spam"], subject: Self.record))
            #expect(negated.status == .ok)
            let after = try await QueryLabelsTests.page(h, "uriPatterns=at://did:plc:target/*").labels
            #expect(after.map(\.val) == ["!hide"])
            // The negation is on the stream.
            let streamed = try await h.subscribe(cursor: "2") { try await $0.seqs(through: 3) }
            #expect(streamed.map(\.label.val) == ["spam"])
            #expect(streamed.first?.label.neg == true)

            let account = try await h.request(
                Self.path, method: .post, headers: auth, body: Self.body(create: ["spam"], subject: Self.repo))
            #expect(account.status == .ok)
            #expect(try await QueryLabelsTests.uris(h, "uriPatterns=did:plc:target") == ["did:plc:target"])
        }
    }

    @Test(arguments: [
        "not json", "[]", #"{"subject":{},"createdBy":"did:plc:m"}"#,
        body(create: ["Not A Label"], subject: repo), body(subject: repo),
        body(create: ["spam"], subject: #"{"$type":"com.atproto.admin.defs#repoRef","did":"nope"}"#),
        body(create: ["spam"], subject: #"{"$type":"com.atproto.repo.strongRef","uri":"at://did:plc:x/a.b.c/1"}"#),
        body(create: ["spam"], subject: #"{"$type":"something.else","did":"did:plc:x"}"#),
        #"{"event":{"$type":"tools.ozone.moderation.defs#modEventTakedown"},"subject":\#(repo),"createdBy":"did:plc:m"}"#,
    ])
    func badEventsAre400(body: String) async throws {
        try await Harness.with(over: .router, configure: { $0.adminToken = "t" }) { h in
            let response = try await h.request(
                Self.path, method: .post, headers: [.authorization: "Bearer t"], body: body)
            #expect(response.status == .badRequest, "\(body): \(response.text)")
            #expect(response.xrpcError == "InvalidRequest")
        }
    }
}

@Suite struct RoutingTests {
    @Test func otherXRPCMethodsAre501AndOtherPaths404() async throws {
        try await Harness.with(over: .router) { h in
            for path in ["/xrpc/com.atproto.sync.getRepo", "/xrpc/app.bsky.feed.getTimeline?limit=1", "/xrpc/a/b"] {
                let response = try await h.request(path)
                #expect(response.status == .notImplemented, "\(path)")
                #expect(response.xrpcError == "MethodNotImplemented")
            }
            let post = try await h.request("/xrpc/com.example.doSomething", method: .post, body: "{}")
            #expect(post.status == .notImplemented)
            #expect(try await h.request("/nothing-here").status == .notFound)
            // `/` is the dashboard: without an admin token, the page that says how to enable it.
            #expect(try await h.request("/").status == .ok)
            let wrong = try await h.request(
                "/xrpc/com.atproto.label.queryLabels?uriPatterns=*", method: .post, body: "")
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.xrpcError == "InvalidRequest")
        }
    }

    @Test func healthReportsTheProvidedState() async throws {
        try await Harness.with(over: .router) { h in
            let response = try await h.request("/xrpc/_health")
            #expect(response.status == .ok)
            let json = try DataModelJSON.parseObject(response.text.replacingOccurrences(of: "1.25", with: "1"))
            #expect(json["status"]?.stringValue == "ok")
            #expect(json["version"]?.stringValue == "test-1")
            #expect(json["databaseReachable"]?.boolValue == true)
            #expect(json["cursor"]?.intValue == 42)
            #expect(response.text.contains(#""secondsBehindRelay":1.25"#))
        }
    }

    @Test func metricsAreServedInPrometheusText() async throws {
        try await Harness.with { h in
            try await h.apply(2)
            _ = try await h.subscribe(cursor: "0") { try await $0.seqs(through: 2) }
            h.metrics.counter("labeler_test_total", help: "A test counter.", labels: ["kind": "a\"b"]) { 7 }
            // The server counts a frame just after writing it; let it catch up with the client.
            try await waitUntil("two frames counted") { h.metricValue("labeler_label_frames_sent_total") >= 2 }
            let response = try await h.request("/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            let text = response.text
            #expect(text.contains("# TYPE labeler_subscribers gauge\n"))
            #expect(
                text.contains("# TYPE labeler_label_frames_sent_total counter\nlabeler_label_frames_sent_total 2\n"))
            #expect(text.contains("labeler_subscriber_connections_total 1\n"))
            #expect(text.contains("labeler_slow_consumer_drops_total 0\n"))
            #expect(text.contains(#"labeler_test_total{kind="a\"b"} 7"#))
        }
    }

    /// Each XRPC method's answers are timed into a histogram of its own (one route serves them
    /// all), and the HTTP middleware's per-route histogram is there too.
    @Test func xrpcLatencyIsAHistogramPerMethod() async throws {
        try await Harness.with { h in
            func count(_ method: String) throws -> Double {
                let text = MetricsBackend.render()
                let prefix = #"labeler_xrpc_request_duration_seconds_count{method=""# + method + #""} "#
                let line = text.split(separator: "\n").first { $0.hasPrefix(prefix) }
                return try #require(line.flatMap { Double($0.dropFirst(prefix.count)) }, "no \(prefix) in \(text)")
            }
            // The metrics backend is one per process: other tests' requests count too.
            let before = try count("com.atproto.label.queryLabels")
            let unknownBefore = try count("other")
            _ = try await h.request("/xrpc/com.atproto.label.queryLabels?uriPatterns=*")
            _ = try await h.request("/xrpc/com.example.nothing")
            #expect(try count("com.atproto.label.queryLabels") >= before + 1)
            #expect(try count("other") >= unknownBefore + 1)
            let text = try await h.request("/metrics").text
            #expect(text.contains("# TYPE labeler_xrpc_request_duration_seconds histogram"))
            #expect(
                text.contains(
                    #"labeler_xrpc_request_duration_seconds_bucket{method="com.atproto.moderation.createReport",le="0.0005"}"#
                ))
            #expect(text.contains("# TYPE http_server_request_duration histogram"))
        }
    }
}
