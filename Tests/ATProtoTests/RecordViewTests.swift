import Testing

@testable import ATProto

@Suite struct RecordViewTests {
    let post = try! DataModelJSON.parseObject(
        """
        {"$type":"app.bsky.feed.post","text":"free crypto at example.com #win @bob","langs":["en","pt"],
         "tags":["extra"],
         "facets":[
           {"index":{"byteStart":0,"byteEnd":4},"features":[{"$type":"app.bsky.richtext.facet#link","uri":"https://scam.example/x"}]},
           {"index":{"byteStart":5,"byteEnd":9},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"win"},
                                                           {"$type":"app.bsky.richtext.facet#mention","did":"did:plc:bob"}]}],
         "embed":{"$type":"app.bsky.embed.recordWithMedia",
                  "record":{"$type":"app.bsky.embed.record","record":{"uri":"at://did:plc:q/app.bsky.feed.post/3k","cid":"bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m"}},
                  "media":{"$type":"app.bsky.embed.images","images":[{"alt":"a wallet","image":{"$type":"blob","ref":{"$link":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},"mimeType":"image/png","size":3}},{"alt":""}]}},
         "reply":{"root":{"uri":"at://did:plc:r/app.bsky.feed.post/1","cid":"bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m"},
                  "parent":{"uri":"at://did:plc:p/app.bsky.feed.post/2","cid":"bafyreiacmzmmzfukfenvoukzfza4k5cyeqbjjqunee4cpo3rn4vovmcg5m"}},
         "createdAt":"2024-01-01T00:00:00.000Z"}
        """)

    @Test func postFields() {
        let view = PostView(post)
        #expect(view.text == "free crypto at example.com #win @bob")
        #expect(view.langs == ["en", "pt"])
        #expect(view.tags == ["win", "extra"])
        #expect(view.links == ["https://scam.example/x"])
        #expect(view.mentions == ["did:plc:bob"])
        #expect(view.altTexts == ["a wallet"])
        #expect(view.quoted?.uri == "at://did:plc:q/app.bsky.feed.post/3k")
        #expect(view.replyRoot?.uri == "at://did:plc:r/app.bsky.feed.post/1")
        #expect(view.replyParent?.uri == "at://did:plc:p/app.bsky.feed.post/2")
    }

    @Test func externalEmbedIsALink() throws {
        let record = try DataModelJSON.parseObject(
            #"{"text":"x","embed":{"$type":"app.bsky.embed.external","external":{"uri":"https://e.example","title":"t","description":"d"}}}"#
        )
        let view = PostView(record)
        #expect(view.externalURI == "https://e.example")
        #expect(view.links == ["https://e.example"])
    }

    @Test func malformedFieldsAreAbsentNotFatal() throws {
        let record = try DataModelJSON.parseObject(#"{"text":5,"langs":"en","facets":[1,{"features":"x"}],"embed":[]}"#)
        let view = PostView(record)
        #expect(view.text == "")
        #expect(view.langs.isEmpty && view.links.isEmpty && view.altTexts.isEmpty)
    }

    @Test func profileListAndWalk() throws {
        let profile = ProfileView(try DataModelJSON.parseObject(#"{"displayName":"Bob","description":"hi"}"#))
        #expect(profile.displayName == "Bob" && profile.description == "hi")
        let list = NamedCollectionView(try DataModelJSON.parseObject(#"{"name":"L","description":"D","purpose":"p"}"#))
        #expect(list.name == "L" && list.description == "D")
        let strings = RecordStrings.all(in: post)
        #expect(strings.contains { $0.path == "embed.media.images[0].alt" && $0.value == "a wallet" })
        #expect(strings.contains { $0.path == "text" })
        #expect(!strings.contains { $0.value == "app.bsky.feed.post" })  // $type is structure
    }
}
