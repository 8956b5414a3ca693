import Testing

@testable import Identity

@Suite struct DNSMessageTests {
    /// A response to `query` with the given flags and TXT answers (each a list of strings).
    func response(to query: [UInt8], flags: UInt16 = 0x8180, answers: [[String]]) -> [UInt8] {
        var out =
            Array(query[0..<2]) + [UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, 0, UInt8(answers.count), 0, 0, 0, 0]
        out += query[12...]
        for strings in answers {
            var rdata: [UInt8] = []
            for s in strings { rdata += [UInt8(s.utf8.count)] + Array(s.utf8) }
            out += [0xC0, 12, 0, 16, 0, 1, 0, 0, 1, 0, 0, UInt8(rdata.count)] + rdata
        }
        return out
    }

    @Test func queryIsARecursiveTXTQuestion() throws {
        let query = try DNSMessage.query(id: 0x1234, name: "_atproto.alice.test")
        #expect(Array(query[0..<12]) == [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        let name: [UInt8] = [8] + Array("_atproto".utf8) + [5] + Array("alice".utf8) + [4] + Array("test".utf8) + [0]
        #expect(Array(query[12...]) == name + [0, 16, 0, 1])
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.query(id: 1, name: "a..b") }
        #expect(throws: DNSMessage.ParseError.self) {
            try DNSMessage.query(id: 1, name: String(repeating: "a", count: 64) + ".test")
        }
    }

    @Test func readsTXTRecordsJoiningTheirStrings() throws {
        let query = try DNSMessage.query(id: 7, name: "_atproto.alice.test")
        let answer = response(to: query, answers: [["did=did:plc:", "abc"], ["other"]])
        #expect(try DNSMessage.parseAnswer(answer, id: 7) == .records(["did=did:plc:abc", "other"]))
    }

    @Test func nxdomainAndTruncationAreAnswersNotErrors() throws {
        let query = try DNSMessage.query(id: 7, name: "x.test")
        #expect(try DNSMessage.parseAnswer(response(to: query, flags: 0x8183, answers: []), id: 7) == .nameDoesNotExist)
        #expect(try DNSMessage.parseAnswer(response(to: query, flags: 0x8380, answers: []), id: 7) == .truncated)
    }

    @Test func rejectsMalformedAnswers() throws {
        let query = try DNSMessage.query(id: 7, name: "x.test")
        let good = response(to: query, answers: [["did=did:plc:abc"]])
        // Another query's id, a query rather than a response, a server failure.
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseAnswer(good, id: 8) }
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseAnswer(query, id: 7) }
        #expect(throws: DNSMessage.ParseError.self) {
            try DNSMessage.parseAnswer(self.response(to: query, flags: 0x8182, answers: []), id: 7)
        }
        // Every truncation of a good answer is refused, never read past its end.
        for length in 0..<good.count {
            #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseAnswer(Array(good[..<length]), id: 7) }
        }
        // A compression pointer that points forward (a loop in the making).
        var forward = good
        let pointer = query.count
        forward[pointer + 1] = UInt8(pointer + 4)
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseAnswer(forward, id: 7) }
        // A TXT string longer than its record.
        var overrun = good
        overrun[pointer + 12] = 200
        #expect(throws: DNSMessage.ParseError.self) { try DNSMessage.parseAnswer(overrun, id: 7) }
    }
}

@Suite struct ExpiringCacheTests {
    let start = ContinuousClock.now

    @Test func entriesExpireAfterTheirTime() {
        var cache = ExpiringCache<String, Int>(capacity: 10, timeToLive: .seconds(60))
        cache.insert(1, for: "a", at: start)
        #expect(cache.value(for: "a", at: start + .seconds(59)) == 1)
        #expect(cache.value(for: "a", at: start + .seconds(60)) == nil)
        #expect(cache.count == 0)
    }

    @Test func aFullCacheDropsTheOldestFirst() {
        var cache = ExpiringCache<Int, Int>(capacity: 3, timeToLive: .seconds(60))
        for n in 0..<3 { cache.insert(n, for: n, at: start + .seconds(n)) }
        cache.insert(0, for: 0, at: start + .seconds(3))  // refreshed: now the newest
        cache.insert(3, for: 3, at: start + .seconds(4))
        #expect(cache.count == 3)
        #expect(cache.value(for: 1, at: start + .seconds(5)) == nil)
        #expect(cache.value(for: 0, at: start + .seconds(5)) == 0)
        #expect(cache.value(for: 2, at: start + .seconds(5)) == 2)
        #expect(cache.value(for: 3, at: start + .seconds(5)) == 3)
    }

    @Test func staysBoundedUnderManyKeysAndUpdates() {
        var cache = ExpiringCache<Int, Int>(capacity: 100, timeToLive: .seconds(60))
        for n in 0..<100_000 { cache.insert(n, for: n % 150, at: start) }
        #expect(cache.count == 100)
        cache.remove(99_999 % 150)
        #expect(cache.count == 99)
    }
}
