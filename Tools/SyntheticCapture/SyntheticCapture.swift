import Firehose
import SyntheticFirehose

#if canImport(Glibc)
import Glibc
#endif

/// Writes synthetic relay messages: a capture file, or one file per message (fuzzing seeds).
/// `--plant-rate` plants moderation content in that many posts and profiles per thousand, as the
/// corpus generator does (20 ≈ its default).
/// Usage: synthetic-capture --count N [--seed S] [--plant-rate PER_MILLE] (--out FILE | --split DIR)
@main
struct SyntheticCapture {
    static func main() throws {
        var args = Array(CommandLine.arguments.dropFirst())
        var count = 1000
        var seed: UInt64 = 1
        var out: String?
        var split: String?
        var plantRate = 0
        while !args.isEmpty {
            switch args.removeFirst() {
            case "--count": count = Int(args.removeFirst()) ?? count
            case "--seed": seed = UInt64(args.removeFirst()) ?? seed
            case "--out": out = args.removeFirst()
            case "--split": split = args.removeFirst()
            case "--plant-rate": plantRate = Int(args.removeFirst()) ?? plantRate
            default:
                print("usage: synthetic-capture --count N [--seed S] [--plant-rate PER_MILLE] (--out FILE | --split DIR)")
                exit(2)
            }
        }
        var generator = SyntheticFirehose(seed: seed, plantRate: plantRate)
        if let out {
            let writer = try CaptureWriter(path: out)
            for _ in 0..<count { try writer.write(generator.next()) }
            try writer.flush()
        } else if let split {
            mkdir(split, 0o755)
            for i in 0..<count {
                let message = generator.next()
                guard let file = fopen("\(split)/seed-\(i)", "wb") else { exit(1) }
                _ = message.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
        } else {
            print("usage: synthetic-capture --count N [--seed S] [--plant-rate PER_MILLE] (--out FILE | --split DIR)")
            exit(2)
        }
    }
}
