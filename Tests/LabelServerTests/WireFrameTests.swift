import NIOCore
import Testing

@testable import LabelServer

@Suite struct WireFrameTests {
    @Test(arguments: [
        (0, [0x82, 0x00]), (125, [0x82, 125]), (126, [0x82, 126, 0, 126]), (65535, [0x82, 126, 0xff, 0xff]),
        (65536, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ])
    func headerUsesTheShortestLength(count: Int, header: [UInt8]) {
        let payload = [UInt8](repeating: 7, count: count)
        let frame = WireFrame(payload: payload)
        #expect(frame.headerLength == header.count)
        #expect(Array(frame.wire.readableBytesView.prefix(header.count)) == header)
        #expect(Array(frame.payload.readableBytesView) == payload)
    }
}
