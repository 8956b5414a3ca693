import KeyedScheduler
import SeededRandom

/// Events per second through ``KeyedScheduler``: its own cost per event with a no-op handler,
/// and with a handler doing about 2 µs of busy work. Keys are drawn Zipf-like from 20,000
/// accounts (a relay's traffic is dominated by a few busy accounts), as account numbers or as
/// DID-like strings. Default limits and timeout. Build with `-c release`; run under
/// `taskset -c 0` for the one-core figure.
///
/// Usage: scheduler-bench [--events N] [--concurrency 1,8,64] [--handlers noop,busy] [--keys int|did]
@main
struct SchedulerBenchmark {
    static let usage =
        "usage: scheduler-bench [--events N] [--concurrency 1,8,64] [--handlers noop,busy] [--keys int|did]"

    static func main() async {
        var events = 1_000_000
        var levels = [1, 8, 64]
        var handlers = ["noop", "busy"]
        var keyKind = "int"
        var arguments = CommandLine.arguments.dropFirst()
        while let argument = arguments.popFirst() {
            let value = arguments.popFirst() ?? ""
            switch argument {
            case "--events": events = Int(value) ?? events
            case "--concurrency": levels = value.split(separator: ",").compactMap { Int($0) }
            case "--handlers": handlers = value.split(separator: ",").map(String.init)
            case "--keys": keyKind = value
            default:
                print(usage)
                return
            }
        }
        var zipf = ZipfAccounts(count: 20_000, seed: 42)
        let accounts = zipf.draw(events)
        print("\(events) events, \(keyKind) keys drawn Zipf(s=1) from 20000 accounts, default limits and timeout")
        switch keyKind {
        case "int":
            await measure(keys: accounts, handlers: handlers, levels: levels)
        case "did":
            let dids = (0..<20_000).map(didLike)
            await measure(keys: accounts.map { dids[$0] }, handlers: handlers, levels: levels)
        default:
            print(usage)
        }
    }

    static func measure<Key: Hashable & Sendable>(keys: [Key], handlers: [String], levels: [Int]) async {
        for name in handlers {
            let handler: KeyedScheduler<Key, Int>.Handler
            let label: String
            switch name {
            case "noop":
                handler = { _, _, _ in }
                label = ""
            case "busy":
                handler = { _, _, _ in spin(for: .microseconds(2)) }
                label = "busy 2 µs handler, "
            default:
                print("unknown handler \(name)")
                continue
            }
            for concurrency in levels {
                let rate = await eventsPerSecond(keys: keys, concurrency: concurrency, handler: handler)
                print("\(label)concurrency \(pad(concurrency, 3)): \(rate) events/s")
            }
        }
    }

    /// Submits every event, then drains; timed from the first submission to the drained state.
    static func eventsPerSecond<Key: Hashable & Sendable>(
        keys: [Key], concurrency: Int, handler: @escaping KeyedScheduler<Key, Int>.Handler
    ) async -> Int {
        let scheduler = KeyedScheduler<Key, Int>(
            configuration: KeyedSchedulerConfiguration(concurrency: concurrency),
            handler: handler
        )
        let clock = ContinuousClock()
        let elapsed = await withTaskGroup(of: Void.self) { group in
            group.addTask { await scheduler.run() }
            let start = clock.now
            for (index, key) in keys.enumerated() {
                do {
                    try await scheduler.submit(key: key, seq: Int64(index), payload: index)
                } catch {
                    fatalError("submit failed: \(error)")
                }
            }
            let mark = await scheduler.shutdown(gracePeriod: .seconds(600))
            precondition(mark == Int64(keys.count - 1), "not every event finished")
            return clock.now - start
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return Int(Double(keys.count) / seconds)
    }

    /// Busy-waits: the stand-in for a handler's CPU work.
    static func spin(for duration: Duration) {
        let clock = ContinuousClock()
        let end = clock.now + duration
        while clock.now < end {}
    }

    /// A string shaped like a did:plc identifier, distinct per account.
    static func didLike(_ account: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var random = SplitMix64(seed: UInt64(account))
        return "did:plc:" + String((0..<24).map { _ in alphabet[Int(random.next() % 32)] })
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

/// Account numbers drawn with probability proportional to 1 / rank (Zipf, exponent 1).
struct ZipfAccounts {
    private var cumulative: [Double] = []
    private var random: SplitMix64

    init(count: Int, seed: UInt64) {
        var total = 0.0
        cumulative.reserveCapacity(count)
        for rank in 1...count {
            total += 1 / Double(rank)
            cumulative.append(total)
        }
        cumulative = cumulative.map { $0 / total }
        random = SplitMix64(seed: seed)
    }

    mutating func draw(_ count: Int) -> [Int] {
        (0..<count).map { _ in
            let u = random.nextUnitInterval()
            var low = 0
            var high = cumulative.count - 1
            while low < high {
                let middle = (low + high) / 2
                if cumulative[middle] < u { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }
}
