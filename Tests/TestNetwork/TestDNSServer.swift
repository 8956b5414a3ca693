import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A DNS server on 127.0.0.1 that answers TXT queries from a table, for handle resolution tests.
/// It can stay silent (a timeout), answer NXDOMAIN for names it does not know, or say every UDP
/// answer is truncated so the client has to ask again over TCP (which it serves too).
public final class TestDNSServer: Sendable {
    public enum Mode: Sendable { case answer, silent, truncateUDP }

    struct State {
        var records: [String: [String]] = [:]
        var mode = Mode.answer
        var udpQueries = 0
        var tcpQueries = 0
    }

    final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let udp: any Channel
    private let tcp: any Channel
    public let port: Int

    public init() async throws {
        let shared = self.shared
        let group = MultiThreadedEventLoopGroup.singleton
        // The port the system gives the UDP socket may be taken for TCP (by any connection's
        // local end, while other tests run): then another port is tried.
        var attempt = 0
        while true {
            attempt += 1
            let udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UDPHandler(shared: shared))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            let port = udp.localAddress!.port!
            let tcp: any Channel
            do {
                tcp = try await ServerBootstrap(group: group)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(TCPHandler(shared: shared))
                        }
                    }
                    .bind(host: "127.0.0.1", port: port).get()
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempt < 20 {
                try? await udp.close()
                continue
            }
            (self.udp, self.tcp, self.port) = (udp, tcp, port)
            return
        }
    }

    /// `host:port`, as the resolver's configuration takes it.
    public var address: String { "127.0.0.1:\(port)" }

    public func setTXT(_ name: String, _ records: [String]?) {
        shared.state.withLock { $0.records[name.lowercased()] = records }
    }
    public func setMode(_ mode: Mode) { shared.state.withLock { $0.mode = mode } }
    public var queries: (udp: Int, tcp: Int) { shared.state.withLock { ($0.udpQueries, $0.tcpQueries) } }

    public func close() async {
        try? await udp.close()
        try? await tcp.close()
    }

    /// The answer to `query`, or nil to say nothing.
    static func answer(_ query: [UInt8], shared: Shared, overUDP: Bool) -> [UInt8]? {
        guard query.count >= 12 else { return nil }
        var labels: [String] = []
        var index = 12
        while index < query.count, query[index] != 0 {
            let length = Int(query[index])
            guard index + 1 + length <= query.count else { return nil }
            labels.append(String(decoding: query[(index + 1)..<(index + 1 + length)], as: UTF8.self))
            index += 1 + length
        }
        let questionEnd = index + 5
        guard questionEnd <= query.count else { return nil }
        let name = labels.joined(separator: ".").lowercased()
        let (mode, records) = shared.state.withLock { state -> (Mode, [String]?) in
            if overUDP { state.udpQueries += 1 } else { state.tcpQueries += 1 }
            return (state.mode, state.records[name])
        }
        if mode == .silent { return nil }
        var flags: UInt16 = 0x8180
        if records == nil { flags |= 3 }
        if mode == .truncateUDP, overUDP { flags |= 0x0200 }
        let answers = (mode == .truncateUDP && overUDP) ? [] : (records ?? [])
        var out = Array(query[0..<2])
        out += [UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1, 0, UInt8(answers.count), 0, 0, 0, 0]
        out += query[12..<questionEnd]
        for record in answers {
            var rdata: [UInt8] = []
            var bytes = Array(record.utf8)[...]
            repeat {
                let chunk = bytes.prefix(255)
                rdata.append(UInt8(chunk.count))
                rdata += chunk
                bytes = bytes.dropFirst(chunk.count)
            } while !bytes.isEmpty
            out += [0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)]
            out += rdata
        }
        return out
    }

    final class UDPHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let shared: Shared

        init(shared: Shared) { self.shared = shared }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            guard
                let answer = TestDNSServer.answer(Array(envelope.data.readableBytesView), shared: shared, overUDP: true)
            else { return }
            context.writeAndFlush(
                wrapOutboundOut(
                    AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: answer))),
                promise: nil)
        }
    }

    /// DNS over TCP: each message is preceded by its length in two bytes.
    final class TCPHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let shared: Shared
        var buffer = ByteBuffer()

        init(shared: Shared) { self.shared = shared }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            buffer.writeBuffer(&chunk)
            while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
                buffer.readableBytes >= 2 + Int(length)
            {
                buffer.moveReaderIndex(forwardBy: 2)
                let query = buffer.readBytes(length: Int(length)) ?? []
                guard let answer = TestDNSServer.answer(query, shared: shared, overUDP: false) else { continue }
                var out = ByteBuffer()
                out.writeInteger(UInt16(answer.count))
                out.writeBytes(answer)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        }
    }
}
