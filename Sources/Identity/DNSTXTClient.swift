import Foundation
import NIOCore
import NIOPosix

/// Asks one DNS server for TXT records, over UDP, and again over TCP when the answer was
/// truncated. Handles are the only thing looked up this way, so this is all the DNS the labeler
/// needs, and the server is configurable (tests run their own).
public struct DNSTXTClient: Sendable {
    public let server: SocketAddress
    public let timeout: Duration

    public init(server: SocketAddress, timeout: Duration) {
        self.server = server
        self.timeout = timeout
    }

    /// The first `nameserver` of `/etc/resolv.conf` (or the given text), on port 53; 127.0.0.1
    /// when there is none, as the resolver library does.
    public static func systemServer(resolvConf: String? = nil) throws(IdentityError) -> SocketAddress {
        let text = resolvConf ?? ((try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? "")
        var host = "127.0.0.1"
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver" {
                host = String(fields[1])
                break
            }
        }
        return try address(host, port: 53)
    }

    /// `host`, `host:port` or `[v6]:port`.
    public static func parseServer(_ text: String) throws(IdentityError) -> SocketAddress {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            let port = rest.hasPrefix(":") ? Int(rest.dropFirst()) : 53
            guard let port else { throw IdentityError.dns("bad server address \(text)") }
            return try address(host, port: port)
        }
        let parts = text.split(separator: ":")
        if parts.count == 2 {
            guard let port = Int(parts[1]) else { throw IdentityError.dns("bad server address \(text)") }
            return try address(String(parts[0]), port: port)
        }
        return try address(text, port: 53)
    }

    static func address(_ host: String, port: Int) throws(IdentityError) -> SocketAddress {
        do { return try SocketAddress(ipAddress: host, port: port) } catch {
            throw IdentityError.dns("the DNS server must be an IP address, not \(host)")
        }
    }

    /// The TXT records of `name`; `.nameDoesNotExist` for NXDOMAIN.
    public func lookup(_ name: String) async throws(IdentityError) -> DNSMessage.Answer {
        let id = UInt16.random(in: 0...UInt16.max)
        let query: [UInt8]
        do { query = try DNSMessage.query(id: id, name: name) } catch { throw IdentityError.dns("\(name): \(error)") }
        let answer = try await withDeadline(name) { try await self.exchangeUDP(query, id: id) }
        guard answer == .truncated else { return answer }
        return try await withDeadline(name) { try await self.exchangeTCP(query, id: id) }
    }

    /// One exchange under the client's timeout, its failures as `IdentityError`s.
    private func withDeadline(
        _ name: String, _ body: @escaping @Sendable () async throws -> DNSMessage.Answer
    ) async throws(IdentityError) -> DNSMessage.Answer {
        do {
            return try await Identity.withDeadline(timeout, body)
        } catch is DeadlinePassed {
            throw IdentityError.timeout(url: "dns://\(server)/\(name)", seconds: timeout.inSeconds)
        } catch let error as IdentityError {
            throw error
        } catch {
            throw IdentityError.dns("\(name): \(error)")
        }
    }

    private func exchangeUDP(_ query: [UInt8], id: UInt16) async throws -> DNSMessage.Answer {
        let server = self.server
        let bindHost = server.protocol == .inet6 ? "::" : "0.0.0.0"
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: bindHost, port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: query)))
            for try await envelope in inbound {
                // Only the server we asked, answering this query, is believed.
                guard envelope.remoteAddress == server else { continue }
                let bytes = Array(envelope.data.readableBytesView)
                guard bytes.count >= 2, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id else { continue }
                return try DNSMessage.parseAnswer(bytes, id: id)
            }
            throw IdentityError.dns("the socket closed before an answer came")
        }
    }

    private func exchangeTCP(_ query: [UInt8], id: UInt16) async throws -> DNSMessage.Answer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: server) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var framed = ByteBuffer()
            framed.writeInteger(UInt16(query.count))
            framed.writeBytes(query)
            try await outbound.write(framed)
            var received = ByteBuffer()
            for try await chunk in inbound {
                received.writeImmutableBuffer(chunk)
                guard let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
                    received.readableBytes >= 2 + Int(length)
                else { continue }
                let bytes = received.getBytes(at: received.readerIndex + 2, length: Int(length)) ?? []
                return try DNSMessage.parseAnswer(bytes, id: id)
            }
            throw IdentityError.dns("the server closed the connection before answering")
        }
    }
}
