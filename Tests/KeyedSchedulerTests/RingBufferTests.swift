import SeededRandom
import Testing

@testable import KeyedScheduler

@Suite("Ring buffer")
struct RingBufferTests {
    @Test func itIsAFIFOAcrossWrapAroundAndGrowth() {
        var buffer = RingBuffer<Int>()
        var expected: [Int] = []
        var next = 0
        var random = SplitMix64(seed: 9)
        for _ in 0..<5_000 {
            if random.next(below: 3) < 2 {
                buffer.append(next)
                expected.append(next)
                next += 1
            } else {
                #expect(buffer.popFirst() == expected.first)
                if !expected.isEmpty { expected.removeFirst() }
            }
            #expect(buffer.count == expected.count)
            #expect(buffer.first == expected.first)
            #expect(buffer.last == expected.last)
        }
        for (position, value) in expected.enumerated() { #expect(buffer[position] == value) }
    }

    @Test func removingFromTheMiddleKeepsTheOrder() {
        var buffer = RingBuffer<Int>()
        for value in 0..<20 { buffer.append(value) }
        for _ in 0..<10 { buffer.popFirst() }
        for value in 20..<30 { buffer.append(value) }  // wraps around
        #expect(buffer.firstPosition { $0 == 25 } == 15)
        #expect(buffer.remove(at: 15) == 25)
        var drained: [Int] = []
        buffer.drain { drained.append($0) }
        #expect(drained == Array(10..<25) + Array(26..<30))
        #expect(buffer.isEmpty)
    }
}
