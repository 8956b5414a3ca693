import ATProto
import Foundation
import Testing

// MARK: - Interop fixtures

/// The parts of the identifier API that the fixture harness drives, so one harness serves every type.
protocol ParsedIdentifier: SendableMetatype {
    init(_ string: String) throws(SyntaxError)
    static func isValid(_ string: String) -> Bool
}

extension DID: ParsedIdentifier {}
extension Handle: ParsedIdentifier {}
extension NSID: ParsedIdentifier {}
extension ATURI: ParsedIdentifier {}
extension ATIdentifier: ParsedIdentifier {}
extension RecordKey: ParsedIdentifier {}
extension TID: ParsedIdentifier {}
extension Datetime: ParsedIdentifier {}
extension CIDString: ParsedIdentifier {}
extension Language: ParsedIdentifier {}
extension URIString: ParsedIdentifier {}
extension RepoPath: ParsedIdentifier {}

/// One `atproto-interop-tests/syntax/*.txt` file and the verdict every case in it must get.
struct SyntaxFixture: Sendable, CustomTestStringConvertible {
    let file: String
    let expectValid: Bool
    /// Runs both entry points of the type under test: `isValid` and the throwing initializer.
    let verdicts: @Sendable (String) -> (isValid: Bool, parses: Bool)

    init<T: ParsedIdentifier>(_ file: String, _ type: T.Type, valid: Bool) {
        self.file = file
        self.expectValid = valid
        self.verdicts = { line in (T.isValid(line), (try? T(line)) != nil) }
    }

    var testDescription: String { file }

    /// The cases in the file: one per line, skipping blank lines and `#` comments. Lines are not
    /// trimmed, because several invalid cases end in a deliberate space.
    func cases() throws -> [String] {
        let url = FixturePath.url("atproto-interop-tests/syntax/\(file)")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}

let syntaxFixtures: [SyntaxFixture] = [
    .init("did_syntax_valid.txt", DID.self, valid: true),
    .init("did_syntax_invalid.txt", DID.self, valid: false),
    .init("handle_syntax_valid.txt", Handle.self, valid: true),
    .init("handle_syntax_invalid.txt", Handle.self, valid: false),
    .init("nsid_syntax_valid.txt", NSID.self, valid: true),
    .init("nsid_syntax_invalid.txt", NSID.self, valid: false),
    .init("aturi_syntax_valid.txt", ATURI.self, valid: true),
    .init("aturi_syntax_invalid.txt", ATURI.self, valid: false),
    .init("atidentifier_syntax_valid.txt", ATIdentifier.self, valid: true),
    .init("atidentifier_syntax_invalid.txt", ATIdentifier.self, valid: false),
    .init("recordkey_syntax_valid.txt", RecordKey.self, valid: true),
    .init("recordkey_syntax_invalid.txt", RecordKey.self, valid: false),
    .init("tid_syntax_valid.txt", TID.self, valid: true),
    .init("tid_syntax_invalid.txt", TID.self, valid: false),
    .init("datetime_syntax_valid.txt", Datetime.self, valid: true),
    .init("datetime_syntax_invalid.txt", Datetime.self, valid: false),
    .init("datetime_parse_invalid.txt", Datetime.self, valid: false),
    .init("cid_syntax_valid.txt", CIDString.self, valid: true),
    .init("cid_syntax_invalid.txt", CIDString.self, valid: false),
    .init("language_syntax_valid.txt", Language.self, valid: true),
    .init("language_syntax_invalid.txt", Language.self, valid: false),
    .init("language_parse_invalid.txt", Language.self, valid: false),
    .init("uri_syntax_valid.txt", URIString.self, valid: true),
    .init("uri_syntax_invalid.txt", URIString.self, valid: false),
]

@Suite("Identifier syntax: interop fixtures")
struct SyntaxFixtureTests {
    @Test("every case in the file gets the expected verdict", arguments: syntaxFixtures)
    func fixtureFile(_ fixture: SyntaxFixture) throws {
        let cases = try fixture.cases()
        #expect(!cases.isEmpty, "no cases in \(fixture.file)")

        var failures: [String] = []
        for line in cases {
            let (isValid, parses) = fixture.verdicts(line)
            if isValid != fixture.expectValid || parses != fixture.expectValid {
                failures.append("isValid=\(isValid) init=\(parses ? "ok" : "throws") \(line.debugDescription)")
            }
        }
        let expected = fixture.expectValid ? "valid" : "invalid"
        let summary = "\(failures.count) of \(cases.count) cases in \(fixture.file) should be \(expected)"
        #expect(failures.isEmpty, "\(summary):\n\(failures.joined(separator: "\n"))")
    }
}

// MARK: - Type-specific behaviour

@Suite("Identifier syntax: accessors and helpers")
struct SyntaxTests {
    // MARK: SyntaxError

    @Test func errorMessageNamesKindInputAndReason() {
        #expect(throws: SyntaxError(kind: "DID", input: "did:FOO:x", reason: "method must be lowercase letters")) {
            try DID("did:FOO:x")
        }
        do {
            _ = try DID("did:FOO:x")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == #"invalid DID "did:FOO:x": method must be lowercase letters"#)
        }
    }

    @Test func errorKindsMatchTheSpecNames() {
        func kind<T: ParsedIdentifier>(_ type: T.Type, _ string: String) -> String? {
            do {
                _ = try T(string)
                return nil
            } catch {
                return error.kind
            }
        }
        #expect(kind(DID.self, "did:") == "DID")
        #expect(kind(Handle.self, "nope") == "handle")
        #expect(kind(NSID.self, "a.b") == "NSID")
        #expect(kind(ATURI.self, "at://") == "AT-URI")
        #expect(kind(ATIdentifier.self, "@x") == "at-identifier")
        #expect(kind(RecordKey.self, "..") == "record key")
        #expect(kind(TID.self, "x") == "TID")
        #expect(kind(Datetime.self, "1985") == "datetime")
        #expect(kind(CIDString.self, "x") == "CID")
        #expect(kind(Language.self, "JA") == "language")
        #expect(kind(URIString.self, "x") == "URI")
        #expect(kind(RepoPath.self, "x") == "repo path")
    }

    @Test func errorMessageEscapesWhitespaceAndTruncatesLongInput() throws {
        let error = try #require(throws: SyntaxError.self) { try Handle("john.test ") }
        #expect(error.description.hasPrefix(#"invalid handle "john.test ": "#))

        let long = String(repeating: "x", count: 5000)
        let truncated = try #require(throws: SyntaxError.self) { try DID(long) }
        #expect(truncated.input == String(repeating: "x", count: SyntaxError.maxInputLength) + "…")
        #expect(truncated.reason == "longer than 2048 characters")
    }

    // MARK: DID, Handle, NSID

    @Test func didParts() throws {
        let did = try DID("did:plc:7iza6de2dwap2sbkpav7c6c6")
        #expect(did.method == "plc")
        #expect(did.identifier == "7iza6de2dwap2sbkpav7c6c6")
        #expect(try DID("did:web:localhost%3A1234").identifier == "localhost%3A1234")
        #expect(try DID("did:method::::val").identifier == ":::val")
        #expect(did.description == did.rawValue)
    }

    @Test func handleNormalisesToLowercaseAndKnowsReservedTLDs() throws {
        let handle = try Handle("Alice.BSKY.Social")
        #expect(handle.rawValue == "Alice.BSKY.Social")
        #expect(handle.normalized.rawValue == "alice.bsky.social")
        #expect(handle != handle.normalized)
        #expect(handle.topLevelDomain == "Social")
        #expect(!handle.hasReservedTLD)
        #expect(try Handle("laptop.LOCAL").hasReservedTLD)
        #expect(Handle.invalid.hasReservedTLD)
        #expect(Handle.invalid.rawValue == "handle.invalid")
    }

    @Test func nsidParts() throws {
        let nsid = try NSID("App.Bsky.feed.postV2")
        #expect(nsid.name == "postV2")
        #expect(nsid.authority == "feed.bsky.app")
        #expect(nsid.authorityPrefix == "App.Bsky.feed")
        #expect(nsid.normalized.rawValue == "app.bsky.feed.postV2")
    }

    @Test func nsidGlobs() throws {
        for glob in ["*", "app.bsky.feed.post", "app.bsky.*", "app.*", "com.atproto.sync.*"] {
            #expect(NSID.isValidGlob(glob), "\(glob)")
        }
        let invalid = [
            "", "**", ".*", "app.*.post", "app.bsky.feed.post*", "app.bsky*",
            "app..*", "app.bsky.*.*", "1app.*", "app.bsky.* ",
        ]
        for glob in invalid {
            #expect(!NSID.isValidGlob(glob), "\(glob)")
        }
        let post = try NSID("app.bsky.feed.post")
        #expect(post.matches(glob: "*"))
        #expect(post.matches(glob: "app.bsky.*"))
        #expect(post.matches(glob: "app.bsky.feed.post"))
        #expect(!post.matches(glob: "app.bsky.feed.post.*"))
        #expect(!post.matches(glob: "app.bsk.*"))
        #expect(!post.matches(glob: "app.bsky.feed.like"))
    }

    // MARK: TID

    @Test func tidDecodesKnownValues() throws {
        #expect(try TID("2222222222222").value == 0)
        let tid = try TID("3jzfcijpj2z2a")
        #expect(tid.value == 1_728_652_679_052_295_174)
        #expect(tid.timestampMicros == 1_688_137_381_887_007)
        #expect(tid.clockID == 6)
        let allOnes = try TID("3zzzzzzzzzzzz")
        #expect(allOnes.timestampMicros == 2_251_799_813_685_247)
        #expect(allOnes.clockID == TID.maxClockID)
        let largest = try TID("bzzzzzzzzzzzz")
        #expect(largest.value == UInt64(Int64.max))
        #expect(largest.timestampMicros == TID.maxMicros)
    }

    @Test(
        arguments: [
            (0, 0), (1, 1), (1_688_137_381_887_007, 6), (1_700_000_000_123_456, 1023),
            (TID.maxMicros, TID.maxClockID), (TID.maxMicros, 0),
        ] as [(UInt64, UInt16)])
    func tidRoundTrips(micros: UInt64, clockID: UInt16) throws {
        let tid = TID(micros: micros, clockID: clockID)
        #expect(TID.isValid(tid.rawValue))
        #expect(try TID(tid.rawValue) == tid)
        #expect(tid.timestampMicros == micros)
        #expect(tid.clockID == clockID)
    }

    @Test func tidStringOrderIsChronological() {
        let earlier = TID(micros: 1_000_000, clockID: 1023)
        let later = TID(micros: 1_000_001, clockID: 0)
        #expect(earlier < later)
        #expect(TID(micros: 5, clockID: 1) < TID(micros: 5, clockID: 2))
        #expect(TID(micros: 1_688_137_381_887_007, clockID: 6).rawValue == "3jzfcijpj2z2a")
    }

    // MARK: Datetime

    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("1985-04-12T23:20:50.123Z", 482_196_050_123_000),
        ("1985-04-12T23:20:50.123-07:00", 482_221_250_123_000),
        ("1985-04-12T23:20:50.1234567899Z", 482_196_050_123_456),
        ("2024-02-29T01:02:03.456789+05:45", 1_709_147_823_456_789),
        ("0000-01-01T00:00:00.000Z", -62_167_219_200_000_000),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("9999-12-31T23:59:59.999999Z", 253_402_300_799_999_999),
    ])
    func datetimeInstant(string: String, micros: Int64) throws {
        let datetime = try Datetime(string)
        #expect(datetime.rawValue == string)
        #expect(datetime.unixMicros == micros)
    }

    @Test func datetimeChecksTheCalendar() {
        #expect(Datetime.isValid("2000-02-29T00:00:00Z"))
        #expect(Datetime.isValid("2024-02-29T00:00:00Z"))
        #expect(!Datetime.isValid("1900-02-29T00:00:00Z"))
        #expect(!Datetime.isValid("2023-02-29T00:00:00Z"))
        #expect(!Datetime.isValid("2023-04-31T00:00:00Z"))
        #expect(Datetime.isValid("2023-12-31T23:59:59Z"))
        #expect(!Datetime.isValid("2023-12-31T24:00:00Z"))
        #expect(!Datetime.isValid("2016-12-31T23:59:60Z"))
        #expect(!Datetime.isValid("2023-01-01T00:00:00+24:00"))
        #expect(!Datetime.isValid("2023-01-01T00:00:00-00:00"))
        #expect(Datetime.isValid("2023-01-01T00:00:00+00:00"))
        #expect(!Datetime.isValid("2023-01-01T00:00:00x123Z"))
        #expect(Datetime.isValid("0000-01-01T00:59:00+00:59"))
        #expect(!Datetime.isValid("0000-01-01T00:58:00+00:59"))
        #expect(Datetime.isValid("1985-04-12T23:20:50.12345678901234567890Z"))
        #expect(!Datetime.isValid("1985-04-12T23:20:50.123456789012345678901Z"))
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (482_196_050_123_999, "1985-04-12T23:20:50.123Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (951_782_400_000_000, "2000-02-29T00:00:00.000Z"),
        (-62_167_219_200_000_000, "0000-01-01T00:00:00.000Z"),
        (253_402_300_799_999_999, "9999-12-31T23:59:59.999Z"),
        (Int64.min, "0000-01-01T00:00:00.000Z"),
        (Int64.max, "9999-12-31T23:59:59.999Z"),
    ])
    func datetimeFormat(micros: Int64, expected: String) throws {
        #expect(Datetime.format(unixMicros: micros) == expected)
        let datetime = Datetime(unixMicros: micros)
        #expect(datetime.rawValue == expected)
        #expect(try Datetime(expected) == datetime)
    }

    @Test func datetimeFormatRoundTripsAcrossTheCalendar() throws {
        // One instant per ~19 days, odd milliseconds, from year 0 to 9999: covers every month and
        // leap-year pattern, including century years.
        var micros = Datetime(unixMicros: .min).unixMicros + 1_234_567
        var checked = 0
        var failures: [String] = []
        while micros < 253_402_300_799_000_000 {
            let text = Datetime.format(unixMicros: micros)
            let flooredToMillis = micros - micros % 1000 - (micros % 1000 < 0 ? 1000 : 0)
            if (try? Datetime(text))?.unixMicros != flooredToMillis { failures.append("\(micros) -> \(text)") }
            micros += 1_641_601_234_567
            checked += 1
        }
        #expect(checked > 190_000)
        #expect(failures.isEmpty, "\(failures.prefix(20).joined(separator: "\n"))")
    }

    @Test func datetimeOrderIsChronological() throws {
        let utc = try Datetime("1985-04-13T06:20:50.123Z")
        let pacific = try Datetime("1985-04-12T23:20:50.123-07:00")
        #expect(utc.unixMicros == pacific.unixMicros)
        #expect(utc != pacific)
        #expect(utc < pacific || pacific < utc)
        #expect(try Datetime("1985-04-12T23:20:50.122Z") < Datetime("1985-04-12T23:20:50.123+00:00"))
        #expect(try Datetime("2000-01-01T00:00:00+01:00") < Datetime("1999-12-31T23:30:00Z"))
    }

    @Test func datetimeNowIsCurrentAndValid() throws {
        let now = Datetime.now()
        #expect(Datetime.isValid(now.rawValue))
        #expect(now.rawValue.utf8.count == 24)
        #expect(abs(now.unixMicros - Int64(Date().timeIntervalSince1970 * 1_000_000)) < 5_000_000)
    }

    // MARK: RepoPath, AT-URI, at-identifier

    @Test func repoPathSplits() throws {
        let path = try RepoPath("app.bsky.feed.post/3jzfcijpj2z2a")
        #expect(path.collection == (try NSID("app.bsky.feed.post")))
        #expect(path.rkey == (try RecordKey("3jzfcijpj2z2a")))
        #expect(RepoPath(collection: path.collection, rkey: path.rkey) == path)
        #expect(try RepoPath("a.b.c/self:x~").rkey.rawValue == "self:x~")

        for bad in [
            "", "app.bsky.feed.post", "app.bsky.feed.post/", "/self", "app.bsky.feed.post/a/b",
            "app.bsky/self", "app.bsky.feed.post/..", "app.bsky.feed.post/a b", "app.bsky.feed.post//a",
        ] {
            #expect(!RepoPath.isValid(bad), "\(bad)")
            #expect(throws: SyntaxError.self) { try RepoPath(bad) }
        }
    }

    @Test func atURIParts() throws {
        let record = try ATURI("at://did:plc:asdf123/app.bsky.feed.post/3jzfcijpj2z2a")
        #expect(record.authority == "did:plc:asdf123")
        #expect(record.identifier == .did(try DID("did:plc:asdf123")))
        #expect(record.did == (try DID("did:plc:asdf123")))
        #expect(record.collection == (try NSID("app.bsky.feed.post")))
        #expect(record.rkey == (try RecordKey("3jzfcijpj2z2a")))
        #expect(record.path == (try RepoPath("app.bsky.feed.post/3jzfcijpj2z2a")))

        let collection = try ATURI("at://user.bsky.social/app.bsky.feed.post")
        #expect(collection.identifier == .handle(try Handle("user.bsky.social")))
        #expect(collection.did == nil)
        #expect(collection.collection?.name == "post")
        #expect(collection.rkey == nil)
        #expect(collection.path == nil)

        let account = try ATURI("at://did:abc:123")
        #expect(account.authority == "did:abc:123")
        #expect(account.collection == nil)
        #expect(account.rkey == nil)
    }

    @Test func atURIBuilders() throws {
        let did = try DID("did:plc:asdf123")
        let post = try NSID("app.bsky.feed.post")
        let rkey = try RecordKey("3jzfcijpj2z2a")
        let built = ATURI(authority: .did(did), collection: post, rkey: rkey)
        #expect(built.rawValue == "at://did:plc:asdf123/app.bsky.feed.post/3jzfcijpj2z2a")
        #expect(ATURI.isValid(built.rawValue))
        #expect(ATURI(did: did, path: RepoPath(collection: post, rkey: rkey)) == built)
        #expect(ATURI(authority: .did(did)).rawValue == "at://did:plc:asdf123")
        let handle = try Handle("a.test")
        #expect(ATURI(authority: .handle(handle), collection: post).rawValue == "at://a.test/app.bsky.feed.post")
    }

    @Test func atIdentifierPicksDIDOrHandle() throws {
        #expect(try ATIdentifier("did:plc:asdf123").did != nil)
        #expect(try ATIdentifier("john.test").handle != nil)
        #expect(try ATIdentifier("john.test").rawValue == "john.test")
        let error = try #require(throws: SyntaxError.self) { try ATIdentifier("did:thing") }
        #expect(error.reason == "missing method-specific identifier")
    }

    // MARK: Language, CID, URI

    @Test func languageRejectsRepeatedVariantsAndSingletonsOnly() {
        #expect(Language.isValid("de-DE-1901-1996"))
        #expect(!Language.isValid("de-DE-1901-1901"))
        #expect(Language.isValid("en-a-foo-b-foo"))
        #expect(!Language.isValid("en-a-foo-A-bar"))
        // The same subtag inside an extension, or after private use, is not a repeat.
        #expect(Language.isValid("en-u-rozaj-rozaj"))
        #expect(Language.isValid("en-x-a-a"))
        #expect(Language.isValid("x-rozaj-rozaj"))
        #expect(!Language.isValid("x"))
        #expect(!Language.isValid("en--US"))
        #expect(!Language.isValid(String(repeating: "a", count: 129)))
    }

    @Test func languagePrimarySubtag() throws {
        #expect(try Language("pt-BR").primarySubtag == "pt")
        #expect(try Language("X-fr-CH").primarySubtag == "X")
        #expect(try Language("ban").primarySubtag == "ban")
    }

    @Test func cidStringRejectsCIDv0() {
        #expect(CIDString.isValid("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"))
        #expect(!CIDString.isValid("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"))
        #expect(!CIDString.isValid("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"))
    }

    @Test func uriScheme() throws {
        #expect(try URIString("https://example.com/path?q=1").scheme == "https")
        #expect(try URIString("svn+ssh://example.com").scheme == "svn+ssh")
        #expect(!URIString.isValid("https://exämple.com"))
        #expect(!URIString.isValid("https://example.com/\t"))
    }
}
