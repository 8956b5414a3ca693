/// The event-stream framing shared by `subscribeRepos` and `subscribeLabels`: one WebSocket binary
/// message is a DAG-CBOR header `{op, t}` followed by a DAG-CBOR body.
public enum FrameCodec {
    /// What a header announces.
    public enum Header: Equatable, Sendable {
        /// `op: 1` with a type such as `#commit`.
        case message(String)
        /// `op: -1`: the body is `{error, message?}`.
        case error
        /// An `op` this protocol version does not define; such frames are ignored.
        case unknown(String)
    }

    /// Decodes the header and the body of `message`, rejecting a missing body or trailing bytes.
    public static func split(_ message: ArraySlice<UInt8>, decoder: CBORDecoder = CBORDecoder())
        throws(FrameError) -> (Header, CBORValue)
    {
        let headerValue: CBORValue
        let headerEnd: Int
        do { (headerValue, headerEnd) = try decoder.decodePrefix(message) } catch { throw FrameError(.header(error)) }
        guard headerEnd < message.endIndex else { throw FrameError(.missingBody) }
        let bodyValue: CBORValue
        let bodyEnd: Int
        do {
            (bodyValue, bodyEnd) = try decoder.decodePrefix(message[headerEnd...])
        } catch {
            throw FrameError(.body(error))
        }
        guard bodyEnd == message.endIndex else { throw FrameError(.trailingBytes(message.endIndex - bodyEnd)) }
        return (try header(headerValue), bodyValue)
    }

    static func header(_ value: CBORValue) throws(FrameError) -> Header {
        guard case .map(let m) = value else { throw FrameError(.badHeader("is not a map")) }
        guard let op = m["op"]?.intValue else { throw FrameError(.badHeader("has no integer 'op'")) }
        switch op {
        case 1:
            guard let t = m["t"]?.stringValue else { throw FrameError(.badHeader("op 1 without a string 't'")) }
            return .message(t)
        case -1:
            return .error
        default:
            return .unknown("op \(op)")
        }
    }

    // MARK: Encoding (for the label stream we serve)

    /// A message frame: `{t, op: 1}` + body.
    public static func encodeMessage(type: String, body: CBORMap) -> [UInt8] {
        var out = CBOREncoder.encode(.map(["t": .text(CBORText(type)), "op": 1]))
        CBOREncoder.append(.map(body), to: &out)
        return out
    }

    /// An error frame: `{op: -1}` + `{error, message?}`. The sender closes the stream after it.
    public static func encodeError(_ error: ErrorMessage) -> [UInt8] {
        var body: [(String, CBORValue)] = [("error", .text(CBORText(error.error)))]
        if let message = error.message { body.append(("message", .text(CBORText(message)))) }
        var out = CBOREncoder.encode(.map(["op": -1]))
        CBOREncoder.append(.map(CBORMap(body)), to: &out)
        return out
    }

    /// An `#info` frame.
    public static func encodeInfo(_ info: InfoMessage) -> [UInt8] {
        var body: [(String, CBORValue)] = [("name", .text(CBORText(info.name)))]
        if let message = info.message { body.append(("message", .text(CBORText(message)))) }
        return encodeMessage(type: "#info", body: CBORMap(body))
    }

    /// A `subscribeLabels` `#labels` frame: `{seq, labels: [label]}` with full signed labels.
    public static func encodeLabels(seq: Int64, labels: [Label]) -> [UInt8] {
        encodeMessage(
            type: "#labels",
            body: ["seq": .int(seq), "labels": .array(labels.map { $0.cborValue(includingSignature: true) })])
    }
}
