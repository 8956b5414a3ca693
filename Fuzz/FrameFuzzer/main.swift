import ATProto
import CFuzzing

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer entry point: one input is one relay WebSocket message. It goes through everything a
/// live connection does with untrusted bytes: frame split, body decode, the commit's CAR, block
/// hashes, the commit object and record decoding, then the record views and the string walk.
/// Any crash, trap, hang or sanitizer report is a bug; a thrown error is the expected outcome.
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let message = Array(UnsafeBufferPointer(start: data, count: size))
    let decoder = RepoEventDecoder()
    if case .commit(let commit)? = try? decoder.decode(message) {
        for op in commit.ops {
            guard let record = op.record else { continue }
            _ = PostView(record)
            _ = ProfileView(record)
            RecordStrings.visit(record, path: "") { _, _ in }
            _ = CBOREncoder.encode(record)
        }
    }
    // The same bytes as a bare CAR and as one CBOR item.
    _ = try? CAR(message)
    if let value = try? CBORDecoder().decode(message) {
        _ = DataModelJSON.serialize(value)
    }
    return 0
}

// SwiftPM executables have their own `main`, so libFuzzer is driven from here.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
