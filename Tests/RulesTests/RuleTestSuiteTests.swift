import ATProto
import Testing

@testable import Rules

/// Reading rule test files and reporting their outcome.
@Suite struct RuleTestSuiteTests {
    @Test func casesOfEveryShape() throws {
        let cases = try RuleTestSuite.load(files: [
            RuleSources.File(
                path: "tests/t.yaml",
                text: """
                    cases:
                      - name: text shorthand
                        text: hello
                        langs: [en]
                        expect: none
                      - name: yaml record
                        collection: app.bsky.actor.profile
                        record: {displayName: Bob, pronouns: [he], age: 3, verified: false, nothing: null}
                        did: did:plc:other
                        expect: [a, b]
                      - name: json record
                        collection: com.example.thing
                        record: '{"value": {"$bytes": "aGk"}}'
                        action: update
                        counts: {r: 2}
                        expect: []
                        expect_log: [c]
                        expect_negate: [d]
                      - name: identity
                        handle: someone.example.com
                        expect: none
                      - name: delete
                        collection: app.bsky.feed.post
                        action: delete
                        expect: []
                    """)
        ])
        #expect(cases.map(\.name) == ["text shorthand", "yaml record", "json record", "identity", "delete"])
        #expect(cases[0].context.record?["langs"] == ["en"])
        #expect(cases[0].expect == [])
        let profile = try #require(cases[1].context.record)
        #expect(profile["displayName"] == "Bob")
        #expect(profile["age"] == .int(3))
        #expect(profile["verified"] == .bool(false))
        #expect(profile["nothing"] == .null)
        #expect(cases[1].context.did == "did:plc:other")
        #expect(cases[1].expect == ["a", "b"])
        #expect(cases[2].context.action == .update)
        #expect(cases[2].context.record?["value"]?.bytesValue == [0x68, 0x69])
        #expect(cases[2].counts == ["r": 2])
        #expect(cases[2].expectLog == ["c"])
        #expect(cases[2].expectNegate == ["d"])
        #expect(cases[3].context.isIdentity)
        #expect(cases[4].context.record == nil)
        #expect(cases[2].location == SourceLocation(file: "tests/t.yaml", line: 11, column: 5))
    }

    @Test func problemsInTestFiles() {
        do {
            _ = try RuleTestSuite.load(files: [
                RuleSources.File(
                    path: "t.yaml",
                    text: """
                        cases:
                          - name: no expectation
                            text: x
                          - name: two sources
                            text: x
                            handle: y.example.com
                            expect: none
                          - name: bad json
                            collection: app.bsky.feed.post
                            record: '{"text": '
                            expect: none
                          - name: float
                            collection: app.bsky.feed.post
                            record: {n: 1.5}
                            expect: none
                          - name: typo
                            text: x
                            expects: [a]
                            expect: []
                        """)
            ])
            Issue.record("broken test file loaded")
        } catch {
            #expect(
                error.diagnostics.map(\.description) == [
                    "t.yaml:2:5: test case 'no expectation' needs 'expect' (label values, or none)",
                    "t.yaml:4:5: a test case takes one of text, record, handle or report, not text and handle",
                    "t.yaml:10:13: record is not a JSON object: JSON: unexpected end of input at byte 9",
                    "t.yaml:14:17: floats are not part of the atproto data model; use an integer or a string",
                    "t.yaml:18:5: unknown key 'expects' in a test case; did you mean 'expect'?",
                ])
        }
    }

    /// A case's labels name its account and record, so both must be valid syntax.
    @Test func aCaseNeedsAValidDIDAndRecordKey() {
        do {
            _ = try RuleTestSuite.load(files: [
                RuleSources.File(
                    path: "t.yaml",
                    text: """
                        cases:
                          - name: bad account
                            text: x
                            did: did:plc:has space
                            rkey: a/b
                            expect: none
                        """)
            ])
            Issue.record("broken test file loaded")
        } catch {
            #expect(
                error.diagnostics.map(\.description) == [
                    "t.yaml:4:10: 'did:plc:has space' is not a valid DID",
                    "t.yaml:5:11: 'a/b' is not a valid record key",
                ])
        }
    }

    @Test func failingCasesSayWhatWasExpectedAndWhatCame() throws {
        let set = try TestSupport.rules("rules:\n  - {id: r, on: [post], label: spam, match: {keywords: [x]}}\n")
        let cases = try RuleTestSuite.load(files: [
            RuleSources.File(
                path: "t.yaml",
                text:
                    "cases:\n  - {name: ok, text: x, expect: [spam]}\n  - {name: wrong, text: y, expect: [spam], expect_negate: [ham]}\n"
            )
        ])
        let results = RuleTestRunner.run(cases, with: set)
        #expect(results.map(\.passed) == [true, false])
        #expect(results[1].mismatches == ["expect: [spam]  got: []", "expect_negate: [ham]  got: []"])
    }
}
