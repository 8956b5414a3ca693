import ATProto
import Testing

extension LabelSubject: ParsedIdentifier {}

/// A label subject is a DID or an AT-URI, so every DID and AT-URI of the interop fixtures is one,
/// and none of their invalid cases is.
let labelSubjectFixtures: [SyntaxFixture] = [
    .init("did_syntax_valid.txt", LabelSubject.self, valid: true),
    .init("did_syntax_invalid.txt", LabelSubject.self, valid: false),
    .init("aturi_syntax_valid.txt", LabelSubject.self, valid: true),
    .init("aturi_syntax_invalid.txt", LabelSubject.self, valid: false),
]

@Suite("Label subjects")
struct LabelSubjectTests {
    @Test("DID and AT-URI fixtures", arguments: labelSubjectFixtures)
    func fixtureFile(_ fixture: SyntaxFixture) throws {
        let cases = try fixture.cases()
        #expect(!cases.isEmpty, "no cases in \(fixture.file)")
        let wrong = cases.filter { fixture.verdicts($0) != (fixture.expectValid, fixture.expectValid) }
        #expect(wrong.isEmpty, "\(wrong.count) of \(cases.count) in \(fixture.file): \(wrong)")
    }

    @Test func aDIDIsAnAccount() throws {
        let subject = try LabelSubject("did:plc:7iza6de2dwap2sbkpav7c6c6")
        #expect(subject == .account(try DID("did:plc:7iza6de2dwap2sbkpav7c6c6")))
        #expect(subject.account?.method == "plc")
        #expect(subject.record == nil)
        #expect(subject.rawValue == "did:plc:7iza6de2dwap2sbkpav7c6c6")
        #expect(subject.description == subject.rawValue)
    }

    @Test func anATURIIsARecord() throws {
        let text = "at://did:plc:asdf123/app.bsky.feed.post/3jzfcijpj2z2a"
        let subject = try LabelSubject(text)
        #expect(subject == .record(try ATURI(text)))
        #expect(subject.record?.rkey?.rawValue == "3jzfcijpj2z2a")
        #expect(subject.account == nil)
        #expect("\(subject)" == text)
        // Any at:// URI is kept as a record subject, as labels on a whole repository are written.
        #expect(try LabelSubject("at://did:plc:asdf123").record?.collection == nil)
    }

    @Test(arguments: [
        ("https://example.com/post/1", "must be a DID (an account) or an at:// URI (a record)"),
        ("", "must be a DID (an account) or an at:// URI (a record)"),
        ("at://", "missing authority"),
        ("at:///app.bsky.feed.post/1", "missing authority"),
        (" did:plc:asdf123", "must be a DID (an account) or an at:// URI (a record)"),
        ("did:plc:asdf123 ", "identifier may only contain ASCII letters, digits and ._:%-"),
        ("at://did:plc:asdf123/app.bsky.feed.post/3jzfcijpj2z2a\n", "record key is not valid"),
        ("at://did:plc:asdf123/", "empty path segment (trailing or doubled slash)"),
        ("DID:plc:asdf123", "must be a DID (an account) or an at:// URI (a record)"),
        ("did:plc:", "missing method-specific identifier"),
    ])
    func rejected(_ input: String, _ reason: String) {
        #expect(!LabelSubject.isValid(input))
        #expect(throws: SyntaxError(kind: "label subject", input: input, reason: reason)) { try LabelSubject(input) }
    }

    @Test func theErrorIsOneReadableLine() throws {
        let error = try #require(throws: SyntaxError.self) {
            try LabelSubject("at://did:plc:abc/app.bsky.feed.post/1 ")
        }
        #expect(
            error.description
                == #"invalid label subject "at://did:plc:abc/app.bsky.feed.post/1 ": record key is not valid"#)
        #expect(!error.description.contains("\n"))
    }

    @Test func subjectsOrderAndHashAsTheirText() throws {
        let account = try LabelSubject("did:plc:b")
        let record = try LabelSubject("at://did:plc:a/app.bsky.feed.post/1")
        let other = try LabelSubject("at://did:plc:a/app.bsky.feed.post/2")
        #expect([account, other, record].sorted() == [record, other, account])
        #expect(Set([account, record, try LabelSubject("did:plc:b")]).count == 2)
    }
}
