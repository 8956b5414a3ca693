import ArgumentParser
import Labeler

#if canImport(Glibc)
import Glibc
#endif

/// `--quiet`, for the commands that show a progress line (`replay`, `capture stats`, `record`,
/// `keys resign`).
struct ProgressOptions: ParsableArguments {
    @Flag(help: "No progress line on standard error (by default redrawn each second on a terminal, else every 10 s).")
    var quiet = false

    /// The command's reporter: redrawn on a terminal, plain lines elsewhere, none with --quiet.
    func reporter(unit: String) -> ProgressReporter<ContinuousClock> {
        ProgressReporter(
            style: .choose(quiet: quiet, terminal: ProcessInfoLite.stderrIsTerminal), unit: unit,
            clock: ContinuousClock(), write: { writeToStandardError($0) })
    }
}

/// The size of the file at `path` in bytes, or nil when it cannot be read (the reader reports why).
func fileSize(_ path: String) -> Int64? {
    var info = stat()
    return stat(path, &info) == 0 ? Int64(info.st_size) : nil
}

/// The sizes of `paths` together, or nil when one is unknown.
func totalSize(_ paths: [String]) -> Int64? {
    var total: Int64 = 0
    for path in paths {
        guard let size = fileSize(path) else { return nil }
        total += size
    }
    return total
}
