import NIOCore

/// One WebSocket binary message as it goes on the wire from the server: the frame header
/// (FIN, binary, unmasked, length) and the payload, encoded once.
///
/// A label frame is sent to every live subscriber; encoding its WebSocket header here, once,
/// lets a batch of frames be written as one buffer instead of passing each frame through the
/// pipeline's WebSocket encoder.
struct WireFrame: Sendable {
    /// Header and payload.
    let wire: ByteBuffer
    let headerLength: Int

    init(payload: [UInt8]) {
        var header: [UInt8] = [0x82]  // FIN | binary
        let count = payload.count
        if count < 126 {
            header.append(UInt8(count))
        } else if count <= Int(UInt16.max) {
            header.append(126)
            header.append(UInt8(count >> 8))
            header.append(UInt8(count & 0xff))
        } else {
            header.append(127)
            for shift in stride(from: 56, through: 0, by: -8) {
                header.append(UInt8((UInt64(count) >> UInt64(shift)) & 0xff))
            }
        }
        var wire = ByteBuffer()
        wire.reserveCapacity(header.count + count)
        wire.writeBytes(header)
        wire.writeBytes(payload)
        self.wire = wire
        self.headerLength = header.count
    }

    /// The payload alone (a view of the same storage).
    var payload: ByteBuffer {
        wire.getSlice(at: wire.readerIndex + headerLength, length: wire.readableBytes - headerLength) ?? ByteBuffer()
    }
}
