import ATCrypto
import ATProto
import LabelServer
import LabelStore
import Labeler
import TestSupport
import Testing

@testable import LabelStore

extension Harness {
    /// Stores signed labels on `uris` as rows, the way another tool sharing the database could:
    /// any text, not only the subjects the writer takes, since queries must cope with whatever
    /// is stored.
    func storeRows(_ uris: [String]) throws {
        let keyID = try store.keyID(forDIDKey: key.publicKey.didKey, at: Datetime.now().rawValue)
        let rows = try uris.map { uri in
            let label = try Label(src: Harness.src, uri: uri, val: "spam", cts: Datetime.now().rawValue).signed(
                with: key)
            return LabelRow(label, sig: label.sig ?? [], keyID: keyID, locked: false, event: nil)
        }
        try store.pool.write { db in
            for row in rows { try db.execute(sql: LabelRow.insertSQL, arguments: row.insertArguments) }
        }
    }
}

@Suite struct QueryLabelsTests {
    /// The labels of a queryLabels response, and its cursor.
    static func page(_ h: Harness, _ query: String) async throws -> (labels: [Label], cursor: String?) {
        let response = try await h.request("/xrpc/com.atproto.label.queryLabels?" + query)
        #expect(response.status == .ok, "\(query): \(response.text)")
        let json = try response.json
        let labels = try (json["labels"]?.arrayValue ?? []).map { try Label(cbor: $0) }
        return (labels, json["cursor"]?.stringValue)
    }

    static func uris(_ h: Harness, _ query: String) async throws -> [String] {
        try await page(h, query).labels.map(\.uri)
    }

    @Test func exactPrefixAndEverything() async throws {
        try await Harness.with(over: .router) { h in
            let uris = [
                "at://did:plc:a/app.bsky.feed.post/1", "at://did:plc:a/app.bsky.feed.post/2",
                "at://did:plc:a/app.bsky.actor.profile/self", "at://did:plc:ab/app.bsky.feed.post/1", "did:plc:a",
            ]
            _ = try await h.writer.submit(
                uris.map {
                    LabelChange(action: .apply, subject: try LabelSubject($0), val: "spam", origin: .rule(id: "t"))
                })
            #expect(try await Self.uris(h, "uriPatterns=did:plc:a") == ["did:plc:a"])
            #expect(
                try await Self.uris(h, "uriPatterns=at://did:plc:a/app.bsky.feed.post/2") == [
                    "at://did:plc:a/app.bsky.feed.post/2"
                ])
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:a/*") == Array(uris[0...2]))
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:a*") == Array(uris[0...3]))
            #expect(
                try await Self.uris(h, "uriPatterns=did:plc:a&uriPatterns=at://did:plc:ab/*") == [uris[3], uris[4]])
            #expect(try await Self.uris(h, "uriPatterns=*") == uris)
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:a/app.bsky.feed.post/1&uriPatterns=*") == uris)
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:zzz/*") == [])
        }
    }

    @Test func percentAndUnderscoreAreLiteral() async throws {
        try await Harness.with(over: .router) { h in
            let uris = ["at://did:plc:a/x/a%b", "at://did:plc:a/x/aXb", "at://did:plc:a/x/a_c", "at://did:plc:a/x/aYc"]
            try h.storeRows(uris)
            // %25 is '%' in a query string.
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:a/x/a%25*") == [uris[0]])
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:a/x/a_*") == [uris[2]])
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:a/x/a%25b") == [uris[0]])
            #expect(try await Self.uris(h, "uriPatterns=at://did:plc:a/x/a_c") == [uris[2]])
        }
    }

    @Test func prefixBoundIncludesEveryContinuation() async throws {
        try await Harness.with(over: .router) { h in
            let uris = ["at://p/a", "at://p/a\u{7F}", "at://p/aé", "at://p/a\u{10FFFF}z", "at://p/b", "at://p/"]
            try h.storeRows(uris)
            let got = try await Self.uris(h, "uriPatterns=at://p/a*")
            #expect(got == Array(uris[0...3]))
        }
    }

    @Test func prefixesAreAnsweredFromTheURIIndex() throws {
        let store = try LabelStore(path: temporaryPath("labels.sqlite"))
        for patterns in [
            [LabelStore.URIPattern.prefix("at://did:plc:a/")], [.exact("did:plc:a")],
            [.prefix("at://did:plc:a/"), .exact("did:plc:b")],
        ] {
            let plan = try store.queryPlan(
                for: .init(uriPatterns: patterns, limit: 50, now: "2030-01-01T00:00:00.000Z"))
            #expect(plan.contains { $0.contains("USING INDEX label_uri") }, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN label") }, "\(plan)")
        }
        // Everything: walked in seq order by the primary key, no sort.
        let all = try store.queryPlan(for: .init(uriPatterns: [], limit: 50, now: "2030-01-01T00:00:00.000Z"))
        #expect(!all.contains { $0.contains("TEMP B-TREE") }, "\(all)")
    }

    @Test func sourcesFilter() async throws {
        try await Harness.with(over: .router) { h in
            try await h.apply(2)
            let mine = try await Self.uris(h, "uriPatterns=*&sources=\(Harness.src)")
            #expect(mine.count == 2)
            #expect(try await Self.uris(h, "uriPatterns=*&sources=did:plc:other").isEmpty)
            #expect(try await Self.uris(h, "uriPatterns=*&sources=did:plc:other&sources=\(Harness.src)").count == 2)
        }
    }

    @Test func negatedAndExpiredLabelsAreLeftOut() async throws {
        try await Harness.with(over: .router) { h in
            let origin = LabelChange.Origin.rule(id: "t")
            _ = try await h.writer.submit([
                LabelChange(action: .apply, subject: try LabelSubject("did:plc:a"), val: "keep", origin: origin),
                LabelChange(action: .apply, subject: try LabelSubject("did:plc:a"), val: "gone", origin: origin),
                LabelChange(
                    action: .apply, subject: try LabelSubject("did:plc:a"), val: "old", exp: "2001-01-01T00:00:00.000Z",
                    origin: origin),
                LabelChange(
                    action: .apply, subject: try LabelSubject("did:plc:a"), val: "later",
                    exp: "2999-01-01T00:00:00.000Z", origin: origin),
            ])
            _ = try await h.writer.submit([
                LabelChange(action: .negate, subject: try LabelSubject("did:plc:a"), val: "gone", origin: origin)
            ])
            let labels = try await Self.page(h, "uriPatterns=did:plc:a").labels
            #expect(labels.map(\.val) == ["keep", "later"])
            #expect(labels.allSatisfy { $0.ver == 1 && $0.neg == nil })
        }
    }

    /// Paging with the cursor while labels are written returns every label that existed when
    /// paging started exactly once, in seq order.
    @Test func pagingIsStableUnderConcurrentWrites() async throws {
        try await Harness.with(over: .router) { h in
            try await h.apply(230)
            let writing = Task {
                for start in stride(from: 1000, to: 1300, by: 10) { try await h.apply(10, from: start) }
            }
            var seen: [String] = []
            var cursor: String? = nil
            var pages = 0
            repeat {
                let page = try await Self.page(h, "uriPatterns=*&limit=17" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += page.labels.map(\.uri)
                cursor = page.labels.isEmpty ? nil : page.cursor
                pages += 1
            } while cursor != nil && pages < 1000
            try await writing.value
            #expect(Set(seen).count == seen.count)
            let first = (0..<230).map { "at://did:plc:alice/app.bsky.feed.post/\($0)" }
            #expect(Array(seen.prefix(230)) == first)
        }
    }

    @Test func limitDefaultsTo50AndCapsAt250() async throws {
        try await Harness.with(over: .router) { h in
            try await h.apply(260)
            #expect(try await Self.page(h, "uriPatterns=*").labels.count == 50)
            #expect(try await Self.page(h, "uriPatterns=*&limit=250").labels.count == 250)
            let first = try await Self.page(h, "uriPatterns=*&limit=1")
            #expect(first.cursor == "1")
            let second = try await Self.page(h, "uriPatterns=*&limit=2&cursor=1")
            #expect(
                second.labels.map(\.uri) == [
                    "at://did:plc:alice/app.bsky.feed.post/1", "at://did:plc:alice/app.bsky.feed.post/2",
                ])
            #expect(second.cursor == "3")
            let end = try await Self.page(h, "uriPatterns=*&cursor=260")
            #expect(end.labels.isEmpty)
            #expect(end.cursor == nil)
        }
    }

    @Test(arguments: [
        "", "limit=10", "uriPatterns=", "uriPatterns=*a", "uriPatterns=at://a*b*", "uriPatterns=**",
        "uriPatterns=*&limit=0", "uriPatterns=*&limit=251", "uriPatterns=*&limit=ten", "uriPatterns=*&limit=-1",
        "uriPatterns=*&cursor=abc", "uriPatterns=*&cursor=-5", "uriPatterns=*&cursor=1.5",
        "uriPatterns=*&sources=not-a-did", "uriPatterns=*&sources=",
    ])
    func badParametersAre400InvalidRequest(query: String) async throws {
        try await Harness.with(over: .router) { h in
            let response = try await h.request("/xrpc/com.atproto.label.queryLabels?" + query)
            #expect(response.status == .badRequest, "\(query)")
            #expect(response.xrpcError == "InvalidRequest", "\(query)")
            #expect((try response.json)["message"]?.stringValue?.isEmpty == false)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }
}
