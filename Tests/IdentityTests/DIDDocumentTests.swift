import ATCrypto
import ATProto
import Foundation
import Testing

@testable import Identity

@Suite struct DIDDocumentTests {
    static let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    static let labelKey = "zQ3shqwJEJyMBsBXCWyCBpUBMqxcon9oHB7mCvx4sSpMdLJwc"

    func document(_ extra: String = "", id: String = did) -> Data {
        Data(
            """
            {"id": "\(id)", "alsoKnownAs": ["at://labeler.example.com"],
             "verificationMethod": [
               {"id": "\(id)#atproto", "type": "Multikey", "controller": "\(id)",
                "publicKeyMultibase": "zDnaembgSGUhZULN2Caob4HLJPaxBh92N7rtH21TErzqf8HQo"},
               {"id": "#atproto_label", "type": "Multikey", "controller": "\(id)",
                "publicKeyMultibase": "\(Self.labelKey)"}\(extra)],
             "service": [
               {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": "https://pds.example.com"},
               {"id": "\(id)#atproto_labeler", "type": "AtprotoLabeler", "serviceEndpoint": "https://labeler.example.com"}]}
            """.utf8)
    }

    @Test func readsKeysAndServicesByFragmentInBothForms() throws {
        let doc = try DIDDocument(json: document(), expected: try DID(Self.did))
        #expect(try doc.key("atproto_label").multikey == Self.labelKey)
        #expect(try doc.key("atproto").type == .p256)
        #expect(doc.serviceEndpoint("atproto_pds") == "https://pds.example.com")
        #expect(doc.serviceEndpoint("atproto_labeler") == "https://labeler.example.com")
        #expect(doc.claimedHandle?.rawValue == "labeler.example.com")
    }

    @Test func aLabelKeyIsAtprotoLabelOrNothing() throws {
        let json = String(decoding: document(), as: UTF8.self).replacingOccurrences(
            of: "#atproto_label", with: "#other")
        let doc = try DIDDocument(json: Data(json.utf8))
        #expect(throws: IdentityError.missingKey(did: try DID(Self.did), fragment: "atproto_label")) {
            try doc.key("atproto_label")
        }
    }

    @Test func refusesTheWrongDocument() throws {
        #expect(throws: IdentityError.self) { try DIDDocument(json: document(), expected: try DID("did:plc:other")) }
        #expect(throws: IdentityError.self) { try DIDDocument(json: Data("[1]".utf8)) }
        #expect(throws: IdentityError.self) { try DIDDocument(json: Data("not json".utf8)) }
        #expect(throws: IdentityError.self) { try DIDDocument(json: document(id: "nope")) }
        let huge = Data(count: DIDDocument.maximumSize + 1)
        #expect(throws: IdentityError.self) { try DIDDocument(json: huge) }
    }

    @Test func aBadKeyIsABadDocument() throws {
        let json = String(decoding: document(), as: UTF8.self).replacingOccurrences(of: Self.labelKey, with: "zzz")
        let doc = try DIDDocument(json: Data(json.utf8))
        #expect(throws: IdentityError.self) { try doc.key("atproto_label") }
    }
}
