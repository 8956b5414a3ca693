import Testing

@testable import Rules

@Suite struct CollectionsReadTests {
    @Test func theDecoderIsToldWhichRecordsAnyRuleReads() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - id: a
                on: [post, app.bsky.graph.block]
                match: {keywords: [x]}
                label: a
              - id: b
                on: [com.example.*]
                match: {keywords: [x], in: [any_text]}
                label: b
            """)
        #expect(set.readsRecords(of: "app.bsky.feed.post"))
        #expect(set.readsRecords(of: "app.bsky.graph.block"))
        #expect(set.readsRecords(of: "com.example.thing"))
        #expect(!set.readsRecords(of: "com.examplex.thing"))
        #expect(!set.readsRecords(of: "app.bsky.actor.profile"))
        #expect(!set.readsRecords(of: "app.bsky.feed.like"))
        #expect(!set.readsHandles)
        #expect(!RuleSet.empty.readsRecords(of: "app.bsky.feed.post"))

        let handles = try TestSupport.rules(
            """
            rules:
              - id: h
                on: [handle]
                match: {keywords: [x]}
                label: h
            """)
        #expect(handles.readsHandles)
        #expect(!handles.readsRecords(of: "app.bsky.feed.post"))
    }
}
