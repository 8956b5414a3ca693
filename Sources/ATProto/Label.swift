/// A label as atproto defines it (`com.atproto.label.defs#label`, labels version 1).
///
/// Fields are kept exactly as received so a signature can be checked over them: `neg` is
/// three-state (absent, false, true) because a verifier must re-encode a `neg: false` that a
/// sender included, while our own labels omit it when false.
public struct Label: Hashable, Sendable {
    public var ver: Int64
    /// The labeler's DID.
    public var src: String
    /// `at://` URI of a record, or a bare `did:` for an account.
    public var uri: String
    /// Pins one version of the record.
    public var cid: String?
    public var val: String
    /// `true` retracts an earlier label; nil means absent on the wire.
    public var neg: Bool?
    /// Creation time, a datetime string kept verbatim.
    public var cts: String
    public var exp: String?
    /// 64-byte compact ECDSA signature (r ‖ s, low-S).
    public var sig: [UInt8]?

    public init(
        ver: Int64 = 1, src: String, uri: String, cid: String? = nil, val: String, neg: Bool? = nil,
        cts: String, exp: String? = nil, sig: [UInt8]? = nil
    ) {
        self.ver = ver
        self.src = src
        self.uri = uri
        self.cid = cid
        self.val = val
        self.neg = neg
        self.cts = cts
        self.exp = exp
        self.sig = sig
    }

    /// Whether this label retracts an earlier one.
    public var isNegation: Bool { neg == true }

    /// The label as a data-model map, optionally with `sig`.
    public func cborValue(includingSignature: Bool = true) -> CBORValue {
        var pairs: [(String, CBORValue)] = [
            ("ver", .int(ver)), ("src", .text(CBORText(src))), ("uri", .text(CBORText(uri))),
            ("val", .text(CBORText(val))), ("cts", .text(CBORText(cts))),
        ]
        if let cid { pairs.append(("cid", .text(CBORText(cid)))) }
        if let neg { pairs.append(("neg", .bool(neg))) }
        if let exp { pairs.append(("exp", .text(CBORText(exp)))) }
        if includingSignature, let sig { pairs.append(("sig", .bytes(sig[...]))) }
        return .map(CBORMap(pairs))
    }

    /// The bytes a signature covers: canonical DAG-CBOR of every field but `sig` (PROTOCOL §3.2).
    public func unsignedBytes() -> [UInt8] {
        CBOREncoder.encode(cborValue(includingSignature: false))
    }

    public enum DecodingError: Error, Equatable, Sendable, CustomStringConvertible {
        case notAMap
        case missingField(String)
        case wrongType(field: String, expected: String)

        public var description: String {
            switch self {
            case .notAMap: "label is not a map"
            case .missingField(let f): "label has no '\(f)'"
            case .wrongType(let f, let e): "label field '\(f)' is not \(e)"
            }
        }
    }

    /// Reads a label from its data-model form (a `#labels` frame entry). Unknown fields are ignored,
    /// as the lexicon rules require.
    public init(cbor value: CBORValue) throws(DecodingError) {
        guard case .map(let m) = value else { throw .notAMap }
        func text(_ key: String, required: Bool) throws(DecodingError) -> String? {
            guard let v = m[key] else {
                if required { throw .missingField(key) }
                return nil
            }
            guard let s = v.stringValue else { throw .wrongType(field: key, expected: "a string") }
            return s
        }
        if let v = m["ver"] {
            guard let i = v.intValue else { throw .wrongType(field: "ver", expected: "an integer") }
            ver = i
        } else {
            ver = 1
        }
        src = try text("src", required: true)!
        uri = try text("uri", required: true)!
        cid = try text("cid", required: false)
        val = try text("val", required: true)!
        cts = try text("cts", required: true)!
        exp = try text("exp", required: false)
        if let v = m["neg"] {
            guard let b = v.boolValue else { throw .wrongType(field: "neg", expected: "a boolean") }
            neg = b
        } else {
            neg = nil
        }
        if let v = m["sig"] {
            guard let b = v.bytesValue else { throw .wrongType(field: "sig", expected: "bytes") }
            sig = Array(b)
        } else {
            sig = nil
        }
    }
}
