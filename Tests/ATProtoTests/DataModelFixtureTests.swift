import Foundation
import Testing

@testable import ATProto

/// The official data-model fixtures: JSON → DAG-CBOR bytes → CID, and the valid/invalid sets.
@Suite struct DataModelFixtureTests {
    /// Each fixture entry's `json` member as raw text, so number spellings such as `123.0` reach
    /// our parser exactly as written.
    static func rawJSONMembers(_ file: String) throws -> [(note: String, json: String)] {
        let text = try String(contentsOf: FixturePath.url("atproto-interop-tests/data-model/\(file)"), encoding: .utf8)
        let bytes = Array(text.utf8)
        var out: [(String, String)] = []
        var i = 0
        let key = Array(#""json":"#.utf8)
        while i < bytes.count {
            guard bytes[i...].starts(with: key) else { i += 1; continue }
            i += key.count
            while bytes[i] == 0x20 { i += 1 }
            let start = i
            var depth = 0
            var inString = false
            repeat {
                let b = bytes[i]
                if inString {
                    if b == 92 { i += 1 } else if b == 34 { inString = false }
                } else if b == 34 {
                    inString = true
                } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                    depth += 1
                } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                }
                i += 1
            } while depth > 0 || inString
            out.append(("", String(decoding: bytes[start..<i], as: UTF8.self)))
        }
        let notes = try (JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] ?? []).map {
            $0["note"] as? String ?? ""
        }
        if notes.count == out.count { return zip(notes, out).map { ($0, $1.1) } }
        return out
    }

    @Test func roundTripFixtures() throws {
        let data = try Data(contentsOf: FixturePath.url("atproto-interop-tests/data-model/data-model-fixtures.json"))
        let entries = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let raws = try Self.rawJSONMembers("data-model-fixtures.json")
        #expect(entries.count == 3)
        #expect(raws.count == entries.count)
        for (entry, raw) in zip(entries, raws) {
            let base64 = try #require(entry["cbor_base64"] as? String)
            let expectedCBOR = try #require(Base64.decode(base64))
            let expectedCID = try #require(entry["cid"] as? String)

            let value = try DataModelJSON.parseObject(raw.json)
            let encoded = CBOREncoder.encode(value)
            #expect(encoded == expectedCBOR, "encoding of \(raw.json.prefix(60))")
            #expect(CID.compute(for: encoded).string == expectedCID)

            // And back: the fixture bytes decode strictly to the same value, and re-encode identically.
            let decoded = try CBORDecoder().decode(expectedCBOR)
            #expect(decoded == value)
            #expect(CBOREncoder.encode(decoded) == expectedCBOR)
            // JSON rendering round-trips through the parser.
            #expect(try DataModelJSON.parse(DataModelJSON.serialize(decoded)) == decoded)
        }
    }

    @Test func validFixturesAccepted() throws {
        let raws = try Self.rawJSONMembers("data-model-valid.json")
        #expect(raws.count == 5)
        for raw in raws {
            #expect(throws: Never.self, "\(raw.note)") { try DataModelJSON.parseObject(raw.json) }
        }
    }

    @Test func invalidFixturesRejected() throws {
        let raws = try Self.rawJSONMembers("data-model-invalid.json")
        #expect(raws.count == 12)
        for raw in raws {
            #expect(throws: DataModelJSON.Error.self, "\(raw.note)") { try DataModelJSON.parseObject(raw.json) }
        }
    }
}
