/// A `ws://` or `wss://` URL taken apart for connecting: host, port, TLS, and the request target.
public struct WebSocketEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var secure: Bool
    public var host: String
    public var port: Int
    /// Path and query, e.g. `/xrpc/com.atproto.sync.subscribeRepos?cursor=5`.
    public var target: String

    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public let url: String
        public let reason: String
        public var description: String { "invalid WebSocket URL \"\(url)\": \(reason)" }
    }

    /// Parses `ws[s]://host[:port][/path][?query]`. `http`/`https` are accepted as aliases, since
    /// operators often paste a relay's web address.
    public init(_ url: String) throws(Error) {
        func fail(_ reason: String) -> Error { Error(url: url, reason: reason) }
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else {
            throw fail("missing scheme (ws:// or wss://)")
        }
        switch url[..<colon].lowercased() {
        case "ws", "http": secure = false
        case "wss", "https": secure = true
        default: throw fail("scheme must be ws or wss")
        }
        let rest = url[url.index(colon, offsetBy: 3)...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.isEmpty else { throw fail("missing host") }
        guard !authority.contains("@") else { throw fail("credentials in the URL are not supported") }
        var hostPart = Substring(authority)
        var port = secure ? 443 : 80
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw fail("unclosed IPv6 address") }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw fail("bad port") }
                port = p
            } else if !after.isEmpty {
                throw fail("bad authority")
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else {
                throw fail("bad port")
            }
            port = p
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw fail("missing host") }
        host = String(hostPart)
        self.port = port
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        self.target = target
    }

    /// This endpoint with `path` replacing the path, and the given query items (percent-encoded).
    public func with(path: String, query: [(String, String)]) -> WebSocketEndpoint {
        var copy = self
        let encoded = query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }
        copy.target = path + (encoded.isEmpty ? "" : "?" + encoded.joined(separator: "&"))
        return copy
    }

    /// The path without the query.
    public var path: String { String(target.prefix(while: { $0 != "?" })) }

    /// Whether the host is an IP literal (no TLS server name indication is sent for those).
    var hostIsIPAddress: Bool {
        host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
    }

    /// The `Host` header value.
    var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return (secure && port == 443) || (!secure && port == 80) ? h : "\(h):\(port)"
    }

    public var description: String { "\(secure ? "wss" : "ws")://\(hostHeader)\(target)" }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: "*"), UInt8(ascii: ":"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 15)])"
            }
        }
        return out
    }
}
