import ATProto
import Testing

@testable import Rules

/// Each field reads what it says, and only that.
@Suite struct FieldTests {
    let postRules: RuleSet

    init() throws {
        postRules = try TestSupport.rules(
            """
            rules:
              - {id: text, on: [post], label: in-text, match: {keywords: [needle], in: [text]}}
              - {id: alt, on: [post], label: in-alt, match: {keywords: [needle], in: [alt]}}
              - {id: links, on: [post], label: in-links, match: {regex: 'needle', in: [links]}}
              - {id: domains, on: [post], label: in-domains, match: {keywords: [needle.example], in: [domains]}}
              - {id: tags, on: [post], label: in-tags, match: {keywords: [needle], in: [tags]}}
              - {id: langs, on: [post], label: in-langs, match: {keywords: [xx], in: [langs]}}
              - {id: any, on: [post], label: in-any, match: {keywords: [needle], in: [any_text]}}
            """)
    }

    @Test func postText() {
        #expect(TestSupport.labels(postRules, TestSupport.post("a needle here")) == ["in-any", "in-text"])
    }

    @Test func altTextOfImagesVideoAndRecordWithMedia() throws {
        let images = try TestSupport.json(
            Collections.post,
            #"{"text": "x", "embed": {"$type": "app.bsky.embed.images", "images": [{"alt": "first"}, {"alt": "a needle"}]}}"#
        )
        #expect(TestSupport.labels(postRules, images) == ["in-alt", "in-any"])
        let evidence = postRules.evaluate(images, using: RuleScratch()).labels.first { $0.value == "in-alt" }?.evidence
        #expect(evidence?.field == .alt)
        #expect(evidence?.valueIndex == 1)
        #expect(evidence?.text == "needle")
        #expect(evidence?.byteRange == 2..<8)
        let video = try TestSupport.json(
            Collections.post, #"{"text": "x", "embed": {"$type": "app.bsky.embed.video", "alt": "needle"}}"#)
        #expect(TestSupport.labels(postRules, video).contains("in-alt"))
        let withMedia = try TestSupport.json(
            Collections.post,
            #"{"text": "x", "embed": {"$type": "app.bsky.embed.recordWithMedia", "media": {"$type": "app.bsky.embed.images", "images": [{"alt": "needle"}]}}}"#
        )
        #expect(TestSupport.labels(postRules, withMedia).contains("in-alt"))
    }

    @Test func linksAndTheirDomains() throws {
        let facet = try TestSupport.json(
            Collections.post,
            #"{"text": "see", "facets": [{"index": {"byteStart": 0, "byteEnd": 3}, "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://Sub.Needle.Example:8443/needle?q=1"}]}]}"#
        )
        #expect(TestSupport.labels(postRules, facet) == ["in-any", "in-domains", "in-links"])
        let external = try TestSupport.json(
            Collections.post,
            #"{"text": "see", "embed": {"$type": "app.bsky.embed.external", "external": {"uri": "https://elsewhere.example/needle"}}}"#
        )
        #expect(TestSupport.labels(postRules, external) == ["in-any", "in-links"])
        #expect(FieldExtraction.host(of: "https://user@Bit.LY:443/x") == "bit.ly")
        #expect(FieldExtraction.host(of: "bit.ly/x") == "bit.ly")
        #expect(FieldExtraction.host(of: "http://[::1]:80/") == "[::1]")
        #expect(FieldExtraction.host(of: "https://example.com./") == "example.com")
    }

    @Test func hashtagFacetsAndTags() throws {
        let tagged = try TestSupport.json(
            Collections.post,
            #"{"text": "hi", "facets": [{"index": {"byteStart": 0, "byteEnd": 2}, "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "needle"}]}]}"#
        )
        #expect(TestSupport.labels(postRules, tagged) == ["in-any", "in-tags"])
        let recordTags = try TestSupport.json(Collections.post, #"{"text": "hi", "tags": ["Needle"]}"#)
        #expect(TestSupport.labels(postRules, recordTags) == ["in-any", "in-tags"])
    }

    @Test func langsAsAField() {
        #expect(TestSupport.labels(postRules, TestSupport.post("hello", langs: ["xx"])) == ["in-langs"])
    }

    @Test func profileListAndStarterPackFields() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: dn, on: [profile], label: dn, match: {keywords: [needle], in: [display_name]}}
              - {id: desc, on: [profile, list, starterpack], label: desc, match: {keywords: [needle], in: [description]}}
              - {id: name, on: [list, starterpack], label: name, match: {keywords: [needle], in: [name]}}
              - {id: default, on: [profile, list, starterpack], label: default, match: {keywords: [needle]}}
            """)
        let profile = try TestSupport.json(Collections.profile, #"{"displayName": "Needle", "description": "plain"}"#)
        #expect(TestSupport.labels(set, profile) == ["default", "dn"])
        let profileDescription = try TestSupport.json(
            Collections.profile, #"{"displayName": "x", "description": "a needle"}"#)
        #expect(TestSupport.labels(set, profileDescription) == ["default", "desc"])
        let list = try TestSupport.json(Collections.list, #"{"name": "needle list", "purpose": "x"}"#)
        #expect(TestSupport.labels(set, list) == ["default", "name"])
        let pack = try TestSupport.json(Collections.starterPack, #"{"name": "x", "description": "needle"}"#)
        #expect(TestSupport.labels(set, pack) == ["default", "desc"])
    }

    @Test func handleOfIdentityEvents() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: h, on: [handle], label: bad-handle, match: {regex: '^support-', in: [handle]}}
              - {id: any, on: [handle], label: any-handle, match: {keywords: [support], mode: substring, in: [any_text]}}
            """)
        let effects = set.evaluate(
            .identity(did: TestSupport.did, handle: "support-team.example.com", time: 0), using: RuleScratch())
        #expect(effects.labels.map(\.value).sorted() == ["any-handle", "bad-handle"])
        #expect(effects.labels.allSatisfy { $0.subject == TestSupport.account })
        // Post rules never see identity events, and handle rules never see records.
        #expect(TestSupport.labels(set, TestSupport.post("support-team")).isEmpty)
    }

    @Test func anyTextOfOtherCollectionsByNSIDAndGlob() throws {
        let set = try TestSupport.rules(
            """
            rules:
              - {id: like, on: [com.example.thing], label: thing, match: {keywords: [needle]}}
              - {id: glob, on: ['com.example.*'], label: glob, match: {keywords: [needle], in: [any_text]}}
            """)
        let thing = try TestSupport.json(
            "com.example.thing", #"{"$type": "com.example.thing", "nested": {"list": ["a", "needle"]}}"#)
        #expect(TestSupport.labels(set, thing) == ["glob", "thing"])
        let other = try TestSupport.json("com.example.other", #"{"value": "needle"}"#)
        #expect(TestSupport.labels(set, other) == ["glob"])
        let unrelated = try TestSupport.json("org.example.thing", #"{"value": "needle"}"#)
        #expect(TestSupport.labels(set, unrelated).isEmpty)
        // `$type` values and map keys are structure, not content.
        let keysOnly = try TestSupport.json("com.example.thing", #"{"$type": "needle", "needle": 1}"#)
        #expect(TestSupport.labels(set, keysOnly).isEmpty)
    }

    @Test func matchersReadOnlyTheirFields() {
        #expect(TestSupport.labels(postRules, TestSupport.post("nothing to see")).isEmpty)
    }
}
