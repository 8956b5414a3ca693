/// One `com.atproto.label.subscribeLabels` WebSocket message, decoded: a `#labels` frame
/// `{seq, labels}`, an `#info` frame, an error frame (the server closes after it), or a type this
/// decoder does not know (clients must ignore those).
public enum LabelStreamMessage: Sendable, Equatable {
    case labels(seq: Int64, [Label])
    case info(InfoMessage)
    case error(ErrorMessage)
    case unknown(type: String)

    /// Decodes one message strictly (canonical DAG-CBOR, no trailing bytes, at most `maxSize`
    /// bytes); a label that does not decode rejects the whole frame.
    public static func decode(_ message: ArraySlice<UInt8>, maxSize: Int = 5_000_000) throws(FrameError)
        -> LabelStreamMessage
    {
        guard message.count <= maxSize else { throw FrameError(.tooLarge(size: message.count, limit: maxSize)) }
        let (header, body) = try FrameCodec.split(message)
        guard case .map(let m) = body else {
            throw FrameError(.badField(type: "frame", field: "body", reason: "is not a map"))
        }
        func text(_ key: String, of type: String) throws(FrameError) -> String? {
            guard let value = m[key] else { return nil }
            guard let s = value.stringValue else {
                throw FrameError(.badField(type: type, field: key, reason: "is not a string"))
            }
            return s
        }
        switch header {
        case .error:
            guard let error = try text("error", of: "error") else {
                throw FrameError(.badField(type: "error", field: "error", reason: "is missing"))
            }
            return .error(ErrorMessage(error: error, message: try text("message", of: "error")))
        case .unknown(let what):
            return .unknown(type: what)
        case .message("#info"):
            guard let name = try text("name", of: "#info") else {
                throw FrameError(.badField(type: "#info", field: "name", reason: "is missing"))
            }
            return .info(InfoMessage(name: name, message: try text("message", of: "#info")))
        case .message("#labels"):
            guard let seq = m["seq"]?.intValue else {
                throw FrameError(.badField(type: "#labels", field: "seq", reason: "is missing or not an integer"))
            }
            guard case .array(let items)? = m["labels"] else {
                throw FrameError(.badField(type: "#labels", field: "labels", reason: "is missing or not an array"))
            }
            var labels: [Label] = []
            labels.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                do { labels.append(try Label(cbor: item)) } catch {
                    throw FrameError(.badField(type: "#labels", field: "labels[\(i)]", reason: "\(error)"))
                }
            }
            return .labels(seq: seq, labels)
        case .message(let type):
            return .unknown(type: type)
        }
    }
}
